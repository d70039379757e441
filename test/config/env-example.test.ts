/**
 * Each default is written once, in the apps' settings schemas: every app loads from an empty environment (plus what
 * it requires), every variable of every schema is in .env.example, and the value .env.example shows for it (set or
 * commented out) is the schema's default.
 */
import fs from 'node:fs';
import path from 'node:path';
import { isDeepStrictEqual } from 'node:util';
import type { z } from 'zod';
import { loadWorkerSettings, workerEnvSchema } from '../../apps/worker/src/config';
import { loadProducerConfig, producerEnvSchema } from '../../apps/producer/src/config';
import { dashboardEnvSchema, loadDashboardSettings } from '../../apps/dashboard/src/config';
import { sandboxEnvSchema } from '../../apps/sandbox/src/config';
import { loadConfig } from '@mk/shared';
import { TEST_PAYLOAD_KEYS } from '@mk/testkit';

const EXAMPLE = path.resolve(__dirname, '../../.env.example');

/** NAME → the value shown, from `NAME=value` and `# NAME=value` lines. */
function readExample(): Map<string, string> {
  const shown = new Map<string, string>();
  for (const line of fs.readFileSync(EXAMPLE, 'utf8').split('\n')) {
    const m = /^(?:#\s*)?([A-Z][A-Z0-9_]+)=(.*)$/.exec(line.trim());
    if (m && !shown.has(m[1]!)) shown.set(m[1]!, m[2]!.trim());
  }
  return shown;
}

const APPS: [string, z.AnyZodObject][] = [
  ['worker', workerEnvSchema],
  ['producer', producerEnvSchema],
  ['dashboard', dashboardEnvSchema],
  ['sandbox', sandboxEnvSchema],
];

describe('.env.example and the settings schemas', () => {
  const shown = readExample();

  it('every app loads from an empty environment plus what it requires', () => {
    // an import worker needs the payload keys (no default: a key is a secret)
    expect(() =>
      loadWorkerSettings({ REDIS_URL: 'redis://127.0.0.1:6379', PAYLOAD_KEYS: TEST_PAYLOAD_KEYS }),
    ).not.toThrow();
    expect(() => loadProducerConfig({})).not.toThrow();
    expect(() =>
      loadDashboardSettings({ DASHBOARD_ADMIN_USER: 'admin', DASHBOARD_ADMIN_PASSWORD: 'a long password' }),
    ).not.toThrow();
    expect(() => loadConfig(sandboxEnvSchema, {})).not.toThrow();
  });

  it.each(APPS)('lists every setting of the %s', (_app, schema) => {
    const missing = Object.keys(schema.shape).filter((name) => !shown.has(name));
    expect(missing).toEqual([]);
  });

  it.each(APPS)('shows the %s default of every setting that has one', (_app, schema) => {
    const wrong: string[] = [];
    for (const [name, field] of Object.entries(schema.shape as Record<string, z.ZodTypeAny>)) {
      const byDefault = field.safeParse(undefined);
      if (!byDefault.success || byDefault.data === undefined) continue; // required, or unset means "none"
      const value = shown.get(name);
      const asShown = field.safeParse(value);
      if (value === undefined || !asShown.success || !isDeepStrictEqual(asShown.data, byDefault.data)) {
        wrong.push(`${name}: .env.example shows "${value}", the default is ${JSON.stringify(byDefault.data)}`);
      }
    }
    expect(wrong).toEqual([]);
  });
});
