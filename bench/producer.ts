/**
 * Producer throughput and memory on a ≥ 1 GB dump: the producer's read → convert → validate → 1 MB plan path
 * against a plain readline + JSON.parse of the same file, each pass in its own process, in the same run.
 *   node --import tsx bench/producer.ts [--quick] [--size-gb 1] [--skip-gzip]
 */
import { execFile } from 'node:child_process';
import { createReadStream } from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { positive, runAsScript, say, type BenchResult } from './lib/bench';
import { REALISTIC, cachedDump, usersForBytes, type BenchDump } from './lib/dumps';
import type { PassMode, PassResult } from './lib/producer-pass';
import type { Figure } from './lib/report';

export interface ProducerBenchOptions {
  quick?: boolean;
  /** Uncompressed dump size in GiB (default 1; --quick: 0.1). */
  sizeGb?: number;
  /** Skip the gzipped variant of the dump. */
  skipGzip?: boolean;
}

const GIB = 1024 ** 3;
const MB = 1e6;
const PASS_SCRIPT = path.join(__dirname, 'lib/producer-pass.ts');

function runPass(mode: PassMode, dump: string): Promise<PassResult> {
  return new Promise((resolve, reject) => {
    execFile(
      process.execPath,
      ['--import', 'tsx', PASS_SCRIPT, mode, dump],
      { maxBuffer: 1024 * 1024 },
      (err, stdout, stderr) => {
        if (err) return reject(new Error(`${mode} pass failed: ${stderr || err.message}`));
        resolve(JSON.parse(stdout.trim().split('\n').pop()!) as PassResult);
      },
    );
  });
}

/** Reads the file once so that both passes find it in the page cache, not one cold and one warm. */
async function warmPageCache(file: string): Promise<void> {
  for await (const _chunk of createReadStream(file, { highWaterMark: 4 * 1024 * 1024 }));
}

function passFigures(label: string, dump: BenchDump, ours: PassResult, plain: PassResult): Figure[] {
  const baselineName = `readline + JSON.parse${label}`;
  const mbps = (r: PassResult) => dump.summary.bytes / MB / r.seconds;
  return [
    {
      name: `records/s${label}`,
      unit: 'records/s',
      value: ours.records / ours.seconds,
      baseline: plain.records / plain.seconds,
      baselineName,
      higherIsBetter: true,
    },
    {
      name: `MB/s of dump${label}`,
      unit: 'MB/s',
      value: mbps(ours),
      baseline: mbps(plain),
      baselineName,
      higherIsBetter: true,
    },
    {
      name: `peak RSS${label}`,
      unit: 'MB',
      value: ours.maxRssBytes / MB,
      baseline: plain.maxRssBytes / MB,
      baselineName,
      higherIsBetter: false,
    },
  ];
}

async function measure(dump: BenchDump): Promise<{ ours: PassResult; plain: PassResult }> {
  await warmPageCache(dump.path);
  say('producer', `plain JSON.parse pass over ${path.basename(dump.path)}`);
  const plain = await runPass('json-parse', dump.path);
  say('producer', `producer pass over ${path.basename(dump.path)}`);
  const ours = await runPass('producer', dump.path);
  if (ours.records !== plain.records)
    throw new Error(`the passes disagree on the number of records: ${ours.records} vs ${plain.records}`);
  return { ours, plain };
}

export async function run(opts: ProducerBenchOptions = {}): Promise<BenchResult> {
  const sizeGb = opts.sizeGb ?? (opts.quick ? 0.1 : 1);
  const users = usersForBytes(sizeGb * GIB, REALISTIC);
  const plainDump = await cachedDump({ ...REALISTIC, users, gzip: false });
  const figures: Figure[] = [];
  const notes: string[] = [];
  const s = plainDump.summary;
  notes.push(
    `Dump: ${(s.bytes / MB).toFixed(0)} MB NDJSON, ${s.users.toLocaleString('en-US')} users in the five source formats mixed, ${s.heavyUsers} of them over 1 MB (split into batches), ${s.badLines} malformed lines.`,
  );

  const plainRun = await measure(plainDump);
  figures.push(...passFigures('', plainDump, plainRun.ours, plainRun.plain));
  const idle = await runPass('idle', plainDump.path);
  notes.push(
    `Peak RSS of the producer pass is ${((plainRun.ours.maxRssBytes / s.bytes) * 100).toFixed(1)}% of the dump's size; a process that loads the same modules and reads nothing peaks at ${(idle.maxRssBytes / MB).toFixed(0)} MB. ` +
      `It rejected ${plainRun.ours.rejected} lines (the malformed ones plus users with no importable connection); JSON.parse alone rejected ${plainRun.plain.rejected}.`,
  );

  if (!opts.skipGzip) {
    const gzDump = await cachedDump({ ...REALISTIC, users, gzip: true });
    const gzRun = await measure(gzDump);
    figures.push(...passFigures(' (gzip)', gzDump, gzRun.ours, gzRun.plain));
    notes.push(
      `Gzipped dump: ${(gzDump.fileBytes / MB).toFixed(0)} MB on disk (generated data compresses far better than real dumps); MB/s counts uncompressed bytes, so the two variants compare directly.`,
    );
  }
  notes.push(
    'Each pass runs in its own process (peak RSS = process.resourceUsage().maxRSS, node + tsx included) on a page-cached file; ' +
      'the producer pass is read + convert + validate + 1 MB plan, without the Redis writes of `run`.',
  );
  return { title: `Producer: reading a ${(s.bytes / MB).toFixed(0)} MB dump`, figures, notes };
}

if (require.main === module) {
  runAsScript(() => {
    const { values } = parseArgs({
      options: { quick: { type: 'boolean' }, 'size-gb': { type: 'string' }, 'skip-gzip': { type: 'boolean' } },
    });
    return run({
      quick: values.quick,
      sizeGb: values['size-gb'] === undefined ? undefined : positive('size-gb', values['size-gb'], 1),
      skipGzip: values['skip-gzip'],
    });
  });
}
