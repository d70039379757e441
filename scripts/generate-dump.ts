/**
 * Generates a realistic, deterministic dump for tests, demos and benchmarks (streams: 1 GB+ is fine).
 *   node --import tsx scripts/generate-dump.ts --users 1000 --format mixed --heavy-share 0.01 --bad-share 0.01 --gzip --out dump.ndjson.gz
 * Without --out the dump goes to stdout.
 */
import { parseArgs } from 'util';
import { createGzip } from 'zlib';
import { once } from 'events';
import { fixtures, SOURCE_FORMATS } from '@mk/converters';
import { exitOnHelp } from '@mk/shared';

const USAGE = `usage: generate-dump --users N [--format ${[...SOURCE_FORMATS, 'mixed'].join('|')}] [--tx-per-account N]
  [--heavy-share 0.01] [--heavy-transactions N] [--bad-share 0.01] [--seed S] [--gzip] [--out PATH]`;

function fail(message: string): never {
  throw new Error(`${message}\n${USAGE}`);
}
function count(name: string, v: string | undefined, fallback: number): number {
  if (v === undefined) return fallback;
  const n = Number(v);
  if (!Number.isInteger(n) || n < 0) fail(`--${name} must be a whole number ≥ 0, got '${v}'`);
  return n;
}
function share(name: string, v: string | undefined): number {
  if (v === undefined) return 0;
  const n = Number(v);
  if (!(n >= 0 && n <= 1)) fail(`--${name} must be a number between 0 and 1, got '${v}'`);
  return n;
}

function parseOptions(): fixtures.DumpOptions & { gzip: boolean; out?: string } {
  const { values: v } = parseArgs({
    options: {
      users: { type: 'string' },
      format: { type: 'string', default: 'mixed' },
      'tx-per-account': { type: 'string' },
      'heavy-share': { type: 'string' },
      'heavy-transactions': { type: 'string' },
      'bad-share': { type: 'string' },
      seed: { type: 'string', default: '1' },
      gzip: { type: 'boolean', default: false },
      out: { type: 'string' },
    },
  });
  if (v.users === undefined) fail('--users is required');
  const formats: string[] = [...SOURCE_FORMATS, 'mixed'];
  if (!formats.includes(v.format!)) fail(`--format must be one of ${formats.join(', ')}, got '${v.format}'`);
  const seed = v.seed!;
  return {
    users: count('users', v.users, 0),
    format: v.format as fixtures.DumpFormat,
    txPerAccount: count('tx-per-account', v['tx-per-account'], 40),
    heavyShare: share('heavy-share', v['heavy-share']),
    heavyTransactions: count('heavy-transactions', v['heavy-transactions'], fixtures.HEAVY_TRANSACTIONS),
    badShare: share('bad-share', v['bad-share']),
    seed: /^\d+$/.test(seed) ? Number(seed) : seed,
    gzip: v.gzip!,
    out: v.out,
  };
}

async function main(): Promise<void> {
  exitOnHelp(`usage: pnpm generate-dump --users N [options] [--out FILE]

Writes a synthetic dump (NDJSON, one user a line) to FILE or stdout.
  --users N               users to write (required)
  --format F              ${[...SOURCE_FORMATS, 'mixed'].join(' | ')} (default mixed)
  --tx-per-account N      transactions per account (default 40)
  --heavy-share X         share of users over 1 MB, 0–1
  --heavy-transactions N  transactions of a heavy user's account (default ${fixtures.HEAVY_TRANSACTIONS})
  --bad-share X           share of malformed lines added, 0–1
  --seed S                same seed, same dump (default 1)
  --gzip                  gzip the output
  --out FILE              write here instead of stdout`);
  const { gzip, out, ...opts } = parseOptions();
  const o = { gzip, out };
  const started = Date.now();
  let summary: fixtures.DumpSummary;
  if (o.out) {
    summary = await fixtures.writeDumpFile(o.out, { ...opts, gzip: o.gzip });
  } else if (o.gzip) {
    const gz = createGzip();
    gz.pipe(process.stdout);
    summary = await fixtures.writeDumpTo(gz, opts);
    gz.end();
    await once(gz, 'end');
  } else {
    summary = await fixtures.writeDumpTo(process.stdout, opts);
  }
  const secs = (Date.now() - started) / 1000;
  process.stderr.write(
    `wrote ${summary.lines} lines: ${summary.users} users (${summary.heavyUsers} heavy), ${summary.badLines} malformed, ` +
      `${(summary.bytes / 1e6).toFixed(1)} MB uncompressed in ${secs.toFixed(1)} s${o.out ? ` → ${o.out}` : ''}\n`,
  );
}

main().catch((e: unknown) => {
  process.stderr.write(`generate-dump: ${(e as Error).message}\n`);
  process.exit(1);
});
