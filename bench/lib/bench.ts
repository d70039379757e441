/** What every benchmark returns, and how a benchmark file runs on its own (`node --import tsx bench/<name>.ts`). */
import { markdownTable, type Figure } from './report';

export interface BenchResult {
  title: string;
  figures: Figure[];
  notes: string[];
}

export function renderResult(result: BenchResult): string {
  return [markdownTable(result.title, result.figures), ...result.notes.map((n) => `- ${n}`), ''].join('\n');
}

/** Runs a bench as a script: prints its table and notes, exits non-zero on failure. */
export function runAsScript(run: () => Promise<BenchResult>): void {
  run()
    .then((result) => {
      process.stdout.write(`${renderResult(result)}\n`);
      process.exit(0);
    })
    .catch((err: unknown) => {
      process.stderr.write(`bench failed: ${(err as Error).stack ?? String(err)}\n`);
      process.exit(1);
    });
}

/** A progress line on stderr, so stdout stays the report. */
export function say(bench: string, message: string): void {
  process.stderr.write(`[${new Date().toISOString().slice(11, 19)} ${bench}] ${message}\n`);
}

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** A positive number option, or the fallback; a bad value stops the bench naming the option. */
export function positive(name: string, value: string | undefined, fallback: number): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (!(n > 0) || !Number.isFinite(n)) throw new Error(`--${name} must be a number > 0, got '${value}'`);
  return n;
}
