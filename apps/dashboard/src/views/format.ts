/** Human formats for the run pages. */
const number = new Intl.NumberFormat('en-US');

export const fmtInt = (n: number) => number.format(Math.round(n));

export function fmtRate(perMin: number): string {
  if (perMin === 0) return '0 / min';
  return perMin >= 10 ? `${fmtInt(perMin)} / min` : `${perMin.toFixed(1)} / min`;
}

export function fmtDuration(seconds: number | null): string {
  if (seconds === null) return '—';
  if (seconds < 60) return `${seconds} s`;
  const minutes = Math.round(seconds / 60);
  if (minutes < 60) return `${minutes} min`;
  const hours = Math.floor(minutes / 60);
  if (hours < 48) return `${hours} h ${minutes % 60} min`;
  return `${Math.floor(hours / 24)} d ${hours % 24} h`;
}

/** UTC, to the minute: ops across time zones read the same thing. */
export function fmtTime(epochMs: number | null | undefined): string {
  if (epochMs === null || epochMs === undefined) return '—';
  return `${new Date(epochMs).toISOString().slice(0, 16).replace('T', ' ')} UTC`;
}

export const fmtPercent = (p: number) => `${p >= 99.95 || p === 0 ? p.toFixed(0) : p.toFixed(1)} %`;
