/**
 * Bench dumps, generated once and cached under bench/out/dumps keyed by their options: the generator is
 * deterministic, so the same key is the same bytes and a rerun measures the very same input.
 */
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, renameSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fixtures } from '@mk/converters';
import { say } from './bench';

export const OUT_DIR = path.resolve(__dirname, '../out');

export type BenchDumpOptions = Required<
  Pick<fixtures.DumpOptions, 'users' | 'format' | 'txPerAccount' | 'heavyShare' | 'badShare'>
> & { seed: number; gzip: boolean };

export interface BenchDump {
  path: string;
  options: BenchDumpOptions;
  summary: fixtures.DumpSummary;
  /** Bytes on disk (compressed for gzip). */
  fileBytes: number;
}

/** A realistic mix: every source format, 1% of users over 1 MB, 1% malformed lines. */
export const REALISTIC: Omit<BenchDumpOptions, 'users' | 'gzip'> = {
  format: 'mixed',
  txPerAccount: 40,
  heavyShare: 0.01,
  badShare: 0.01,
  seed: 1,
};

export async function cachedDump(options: BenchDumpOptions): Promise<BenchDump> {
  const dir = path.join(OUT_DIR, 'dumps');
  mkdirSync(dir, { recursive: true });
  const key = createHash('sha256').update(JSON.stringify(options)).digest('hex').slice(0, 12);
  const file = path.join(dir, `dump-${options.users}u-${key}.ndjson${options.gzip ? '.gz' : ''}`);
  const summaryFile = `${file}.summary.json`;
  // The summary is written last: a dump without one was interrupted and is made again.
  if (existsSync(file) && existsSync(summaryFile)) {
    return {
      path: file,
      options,
      summary: JSON.parse(readFileSync(summaryFile, 'utf8')) as fixtures.DumpSummary,
      fileBytes: statSync(file).size,
    };
  }
  say('dumps', `generating ${path.basename(file)} (${options.users} users${options.gzip ? ', gzip' : ''})`);
  const started = Date.now();
  const summary = await fixtures.writeDumpFile(`${file}.partial`, options);
  renameSync(`${file}.partial`, file);
  writeFileSync(summaryFile, JSON.stringify(summary));
  say('dumps', `wrote ${(summary.bytes / 1e6).toFixed(0)} MB in ${((Date.now() - started) / 1000).toFixed(1)} s`);
  return { path: file, options, summary, fileBytes: statSync(file).size };
}

/** Users needed for a dump of at least `bytes` (uncompressed), from the mean line size of a sample. */
export function usersForBytes(bytes: number, shape: Omit<BenchDumpOptions, 'users' | 'gzip'>): number {
  // Heavy users (1%, ~1 MB each) dominate the mean: a small sample misjudges it by tens of percent.
  const sample = 3000;
  let sampleBytes = 0;
  for (const l of fixtures.dumpLines({ ...shape, users: sample })) sampleBytes += Buffer.byteLength(l.line) + 1;
  // 5% spare: a different stretch of the dump can run a little lighter than the sample.
  return Math.ceil((bytes / (sampleBytes / sample)) * 1.05);
}
