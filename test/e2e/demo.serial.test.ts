/**
 * The demo command end to end, with every log at debug level: it migrates the sample, refreshes reconnected links,
 * prints the report — with --exit, no dashboard URL it has already stopped — and none of the secrets or PII it handled reach its output.
 */
import fs from 'node:fs';
import path from 'node:path';
import { startApp } from '@mk/testkit';

const ROOT = path.resolve(__dirname, '../..');

/** The personal data and secrets the demo handles, read from the sample dump itself. */
function seededSecrets(): string[] {
  const dump = fs.readFileSync(path.join(ROOT, 'samples/demo-dump.ndjson'), 'utf8');
  const found = new Set<string>(['sandbox-client-secret']);
  for (const m of dump.matchAll(/"(?:email|address|emailAddress)":"([^"]+@[^"]+)"/g)) found.add(m[1]!);
  for (const m of dump.matchAll(/"(?:phone|number|phoneNumber)":"(\+?[\d ()-]{10,})"/g)) found.add(m[1]!);
  for (const m of dump.matchAll(/"(?:account_number|accountNumber|realAccountNumber)":"(\d{6,})"/g)) found.add(m[1]!);
  for (const m of dump.matchAll(/"(?:name|description|memo|original_description)":"([^"]{18,})"/g)) {
    // transaction descriptions, not institution or product names that also appear in reports
    if (/\d/.test(m[1]!)) found.add(m[1]!);
  }
  return [...found];
}

describe('npm run demo', () => {
  it('migrates the sample end to end and keeps secrets and PII out of its output, even at debug level', async () => {
    const secrets = seededSecrets();
    expect(secrets.filter((s) => s.includes('@')).length).toBeGreaterThan(10);
    expect(secrets.length).toBeGreaterThan(30);

    const demo = startApp('scripts/demo.ts', { LOG_LEVEL: 'debug', NODE_ENV: 'production' }, ['--exit']);
    const code = await demo.exited;
    const output = demo.output();
    expect(code).toBe(0);
    expect(output).toMatch(/connections: \d+ imported, 0 failed/);
    expect(output).toMatch(/0 duplicates/);
    expect(output).toMatch(/every reconnected link refreshed: \d+ product refreshes accepted, 0 quota violations/);
    expect(output).toMatch(/links waiting for their user, [1-9]\d* reconnected/);
    expect(output).toMatch(/source_user_id,source_connection_id,link_id,imported_at,waiting_for,waiting_seconds/);
    expect(output).not.toMatch(/Dashboard: http/); // --exit stops the dashboard too
    expect(output).toMatch(/Stopping \(--exit or no terminal\)/);
    expect(output).toMatch(/"level":20/); // debug records were written, so there was something to leak

    const leaked = secrets.filter((s) => output.includes(s));
    expect(leaked).toEqual([]);
    expect(output).not.toMatch(/Bearer\s+(?!\[redacted\])[A-Za-z0-9._~+/=-]{8,}/);
  }, 180_000);
});
