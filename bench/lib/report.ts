/** Benchmark output: each figure next to its baseline measured in the same run, as a table and as JSON. */
export interface Figure {
  name: string;
  unit: string;
  value: number;
  baseline?: number;
  baselineName?: string;
  /** true when a bigger value is better (throughput), false for costs (memory, latency). */
  higherIsBetter: boolean;
}

export function ratio(f: Figure): string {
  if (f.baseline === undefined || f.baseline === 0) return '';
  const r = f.value / f.baseline;
  return `${r.toFixed(2)}×`;
}

const fmt = (n: number) =>
  Math.abs(n) >= 100 || Number.isInteger(n) ? Math.round(n).toLocaleString('en-US') : n.toFixed(2);
const withUnit = (n: number, unit: string) => (unit ? `${fmt(n)} ${unit}` : fmt(n));

export function markdownTable(title: string, figures: Figure[]): string {
  const rows = figures.map(
    (f) =>
      `| ${f.name} | ${withUnit(f.value, f.unit)} | ${f.baseline === undefined ? '—' : withUnit(f.baseline, f.unit)} | ${f.baselineName ?? ''} | ${ratio(f)} |`,
  );
  return [
    `### ${title}`,
    '',
    '| figure | ours | baseline | baseline is | ours/baseline |',
    '|---|---|---|---|---|',
    ...rows,
    '',
  ].join('\n');
}
