/**
 * One timed pass over a dump, alone in its process so its peak RSS is its own:
 *   node --import tsx bench/lib/producer-pass.ts <producer|json-parse|idle> <dump>
 * Prints one JSON line: PassResult. (`idle` reads nothing: the RSS of node + tsx + these modules.)
 *   producer:   the producer's path — stream, split lines, parse preserving numbers, detect the format, convert,
 *               validate, plan every connection against the 1 MB rule (usersOf, as `run` and `plan` read dumps).
 *   json-parse: what a plain script would do — readline over the (gunzipped) file and JSON.parse each line.
 */
import { createReadStream } from 'node:fs';
import { createInterface } from 'node:readline';
import { createGunzip } from 'node:zlib';
import { usersOf } from '../../apps/producer/src/dump-source';

/** idle: a process that loads the same modules and reads nothing — the floor under both passes' RSS. */
export type PassMode = 'producer' | 'json-parse' | 'idle';

export interface PassResult {
  mode: PassMode;
  /** Non-blank lines handled (users plus malformed lines). */
  records: number;
  /** Lines the pass could not use (malformed, or no importable connection). */
  rejected: number;
  seconds: number;
  /** Peak resident set size of the process, bytes. */
  maxRssBytes: number;
}

async function producerPass(dump: string): Promise<Omit<PassResult, 'mode' | 'seconds' | 'maxRssBytes'>> {
  let records = 0;
  let rejected = 0;
  for await (const item of usersOf(dump, {})) {
    records++;
    if (!item.ok) rejected++;
  }
  return { records, rejected };
}

async function jsonParsePass(dump: string): Promise<Omit<PassResult, 'mode' | 'seconds' | 'maxRssBytes'>> {
  const file = createReadStream(dump);
  const input = dump.endsWith('.gz') ? file.pipe(createGunzip()) : file;
  let records = 0;
  let rejected = 0;
  for await (const line of createInterface({ input, crlfDelay: Infinity })) {
    if (line.trim() === '') continue;
    records++;
    try {
      JSON.parse(line);
    } catch {
      rejected++;
    }
  }
  return { records, rejected };
}

async function main(): Promise<void> {
  const [mode, dump] = process.argv.slice(2);
  if ((mode !== 'producer' && mode !== 'json-parse' && mode !== 'idle') || !dump)
    throw new Error('usage: producer-pass.ts <producer|json-parse|idle> <dump>');
  const started = process.hrtime.bigint();
  const counts =
    mode === 'producer'
      ? await producerPass(dump)
      : mode === 'json-parse'
        ? await jsonParsePass(dump)
        : { records: 0, rejected: 0 };
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  const result: PassResult = { mode, ...counts, seconds, maxRssBytes: process.resourceUsage().maxRSS * 1024 };
  process.stdout.write(`${JSON.stringify(result)}\n`);
}

main().catch((err: unknown) => {
  process.stderr.write(`producer-pass: ${(err as Error).stack ?? String(err)}\n`);
  process.exit(1);
});
