/**
 * The alert rules in infra/prometheus: valid (`promtool check rules`), firing when they should and quiet when
 * they should not (`promtool test rules`, cases in alerts.test.yml), and written over metrics the service exports.
 * promtool comes with Debian's `prometheus` package, which scripts/bootstrap.mjs installs where it is missing.
 */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';

const DIR = path.resolve(__dirname, '../../infra/prometheus');
const promtool = (...args: string[]) => spawnSync('promtool', args, { cwd: DIR, encoding: 'utf8' });

/** Metric names the code registers (prom-client `name: '...'` and the dashboard's gauge('...')). */
function exportedMetrics(): Set<string> {
  const names = new Set<string>();
  for (const file of ['packages/telemetry/src/metrics.ts', 'apps/dashboard/src/metrics.ts']) {
    const text = fs.readFileSync(path.resolve(__dirname, '../..', file), 'utf8');
    for (const m of text.matchAll(/(?:name: |gauge\()'(mk_[a-z_]+)'/g)) names.add(m[1]!);
  }
  return names;
}

describe('infra/prometheus alert rules', () => {
  it('pass promtool check rules', () => {
    const res = promtool('check', 'rules', 'alerts.yml');
    expect(res.error).toBeUndefined();
    expect(`${res.stdout}${res.stderr}`).toContain('SUCCESS: 6 rules found');
    expect(res.status).toBe(0);
  });

  it('pass their unit tests (promtool test rules)', () => {
    const res = promtool('test', 'rules', 'alerts.test.yml');
    expect(`${res.stdout}${res.stderr}`).toContain('SUCCESS');
    expect(res.status).toBe(0);
  });

  it('use only metrics the service exports', () => {
    const exported = exportedMetrics();
    const rules = fs.readFileSync(path.join(DIR, 'alerts.yml'), 'utf8').split('\n').filter((l) => !l.trim().startsWith('#')).join('\n');
    const used = [...rules.matchAll(/\b(mk_[a-z_]+)\{|\b(mk_[a-z_]+)\b/g)]
      .map((m) => (m[1] ?? m[2]!).replace(/_(bucket|count|sum)$/, ''))
      .filter((name) => !name.startsWith('mk_migrate')); // the CLI's name in annotations
    expect(used.length).toBeGreaterThan(5);
    expect(used.filter((name) => !exported.has(name))).toEqual([]);
  });
});
