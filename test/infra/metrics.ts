/** The metric names the code registers, and those an expression uses: what the infra files may refer to. */
import fs from 'node:fs';
import path from 'node:path';

/** prom-client `name: 'mk_…'` in the process registry and the dashboard's `gauge('mk_…')`. */
export function exportedMetrics(): Set<string> {
  const names = new Set<string>();
  for (const file of ['packages/telemetry/src/metrics.ts', 'apps/dashboard/src/metrics.ts']) {
    const text = fs.readFileSync(path.resolve(__dirname, '../..', file), 'utf8');
    for (const m of text.matchAll(/(?:name:\s*|gauge\(\s*)'(mk_[a-z_]+)'/g)) names.add(m[1]!);
  }
  return names;
}

/** Metric names in PromQL text, a histogram's _bucket/_count/_sum taken back to its name. */
export function metricsIn(promql: string): string[] {
  return [...promql.matchAll(/\b(mk_[a-z_]+)\b/g)].map((m) => m[1]!.replace(/_(bucket|count|sum)$/, ''));
}
