/**
 * The alert rules in infra/prometheus: valid (`promtool check rules`), firing when they should and quiet when
 * they should not (`promtool test rules`, cases in alerts.test.yml), and written over metrics the service exports.
 * promtool comes with Debian's `prometheus` package, which scripts/bootstrap.mjs installs where it is missing.
 */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { exportedMetrics, metricsIn } from './metrics';

const DIR = path.resolve(__dirname, '../../infra/prometheus');
const promtool = (...args: string[]) => spawnSync('promtool', args, { cwd: DIR, encoding: 'utf8' });

describe('infra/prometheus alert rules', () => {
  it('pass promtool check rules', () => {
    const res = promtool('check', 'rules', 'alerts.yml');
    expect(res.error).toBeUndefined();
    expect(`${res.stdout}${res.stderr}`).toContain('SUCCESS: 7 rules found');
    expect(res.status).toBe(0);
  });

  it('pass their unit tests (promtool test rules)', () => {
    const res = promtool('test', 'rules', 'alerts.test.yml');
    expect(`${res.stdout}${res.stderr}`).toContain('SUCCESS');
    expect(res.status).toBe(0);
  });

  it('use only metrics the service exports', () => {
    const exported = exportedMetrics();
    const rules = fs
      .readFileSync(path.join(DIR, 'alerts.yml'), 'utf8')
      .split('\n')
      .filter((l) => !l.trim().startsWith('#'))
      .join('\n');
    const used = metricsIn(rules);
    expect(used.length).toBeGreaterThan(5);
    expect(used.filter((name) => !exported.has(name))).toEqual([]);
  });
});
