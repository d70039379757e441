/**
 * Runs every bench in turn and writes the report: bench/REPORT.md (committed) and bench/out/report.json.
 *   pnpm bench [--quick] [--only producer,imports,worker-overhead,refresh] [--size-gb 1] [--rate 600] [--seconds 120] [--jobs 5000]
 * --quick is a smoke test (~2 min): its report goes to bench/out/REPORT-quick.md, leaving the committed one alone.
 * --report PATH writes the markdown elsewhere (its JSON goes to bench/out/<name>.json), e.g. for a long form.
 */
import { execFile, execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { exitOnHelp } from '@mk/shared';
import { positive, renderResult, say, type BenchResult } from './lib/bench';
import { OUT_DIR } from './lib/dumps';
import type { Figure } from './lib/report';

interface RunOptions {
  quick: boolean;
  sizeGb?: number;
  rate?: number;
  seconds?: number;
  jobs?: number;
}

interface BenchEntry {
  name: string;
  seconds: number;
  result?: BenchResult;
  error?: string;
}

const REFRESH_SCRIPT = path.join(__dirname, 'refresh.ts');
const REFRESH_JSON = path.join(OUT_DIR, 'refresh.json');

function isBenchResult(v: unknown): v is BenchResult {
  const r = v as Partial<BenchResult> | null;
  return (
    typeof r?.title === 'string' &&
    Array.isArray(r.figures) &&
    r.figures.every((f: Partial<Figure>) => typeof f?.name === 'string' && typeof f.value === 'number') &&
    Array.isArray(r.notes)
  );
}

/** bench/refresh.ts belongs to the refresh pipeline's owner: call its `run` when it exports one, else run it as a script. */
async function refreshBench(o: RunOptions): Promise<BenchResult> {
  const source = readFileSync(REFRESH_SCRIPT, 'utf8');
  if (/export\s+(async\s+function\s+run|function\s+run|const\s+run)\b/.test(source)) {
    const mod = (await import(REFRESH_SCRIPT)) as { run: (opts: { quick: boolean }) => Promise<unknown> };
    const result = await mod.run({ quick: o.quick });
    if (!isBenchResult(result)) throw new Error('bench/refresh.ts run() did not return { title, figures, notes }');
    return result;
  }
  const startedAt = Date.now();
  await new Promise<void>((resolve, reject) => {
    const child = execFile(
      process.execPath,
      ['--import', 'tsx', REFRESH_SCRIPT, ...(o.quick ? ['--quick'] : [])],
      { maxBuffer: 64 * 1024 * 1024 },
      (err, _out, stderr) => (err ? reject(new Error(`bench/refresh.ts failed: ${stderr || err.message}`)) : resolve()),
    );
    child.stderr?.pipe(process.stderr);
  });
  // An old file from an earlier run must not pass for this run's figures.
  if (!existsSync(REFRESH_JSON) || statSync(REFRESH_JSON).mtimeMs < startedAt - 1000)
    throw new Error('bench/refresh.ts wrote no fresh bench/out/refresh.json');
  const written = JSON.parse(readFileSync(REFRESH_JSON, 'utf8')) as unknown;
  if (!isBenchResult(written)) throw new Error('bench/out/refresh.json is not { title, figures, notes }');
  return written;
}

function benches(o: RunOptions): { name: string; run: () => Promise<BenchResult> }[] {
  const list = [
    { name: 'producer', run: async () => (await import('./producer')).run({ quick: o.quick, sizeGb: o.sizeGb }) },
    {
      name: 'imports',
      run: async () => (await import('./imports')).run({ quick: o.quick, rate: o.rate, seconds: o.seconds }),
    },
    {
      name: 'worker-overhead',
      run: async () => (await import('./worker-overhead')).run({ quick: o.quick, jobs: o.jobs }),
    },
    { name: 'postgres', run: async () => (await import('./postgres')).run({ quick: o.quick }) },
    { name: 'cutover', run: async () => (await import('./cutover')).run({ quick: o.quick }) },
  ];
  if (existsSync(REFRESH_SCRIPT)) list.push({ name: 'refresh', run: () => refreshBench(o) });
  return list;
}

function machine() {
  const cpus = os.cpus();
  let redis = 'unknown';
  try {
    redis = /v=(\S+)/.exec(execFileSync('redis-server', ['--version'], { encoding: 'utf8' }))?.[1] ?? redis;
  } catch {
    /* reported as unknown */
  }
  return {
    cores: cpus.length,
    cpu: cpus[0]?.model.trim() ?? 'unknown',
    memoryGb: Math.round(os.totalmem() / 1024 ** 3),
    os: `${os.type()} ${os.release()}`,
    node: process.version,
    redis,
    /** How busy the machine was when the run started (1-minute load average): absolute figures move with it, ratios less. */
    loadAverage: Number(os.loadavg()[0]!.toFixed(2)),
  };
}

function markdown(report: {
  date: string;
  command: string;
  machine: ReturnType<typeof machine>;
  entries: BenchEntry[];
}): string {
  const m = report.machine;
  const lines = [
    '# Benchmark report',
    '',
    `Measured ${report.date} with \`${report.command}\`. Every figure sits next to a baseline measured in the same run on the same machine;`,
    'see [README.md](README.md) for what each figure means and for the long forms.',
    '',
    `Machine: ${m.cores} cores (${m.cpu}), ${m.memoryGb} GB RAM, ${m.os}; Node ${m.node}; Redis ${m.redis}; load average ${m.loadAverage} at the start.`,
    '',
  ];
  for (const e of report.entries) {
    if (e.result) lines.push(renderResult(e.result).trimEnd(), `- Took ${Math.round(e.seconds)} s.`, '');
    else lines.push(`### ${e.name}`, '', `Failed after ${Math.round(e.seconds)} s: ${e.error}`, '');
  }
  return lines.join('\n');
}

async function main(): Promise<number> {
  exitOnHelp(`usage: pnpm bench [options]

Measures every figure next to its baseline in the same run and writes bench/REPORT.md.
  --quick           a two-minute smoke run
  --only A,B        only these benchmarks (${benches({ quick: true })
    .map((b) => b.name)
    .join(', ')})
  --size-gb N       size of the producer's dump in GB
  --rate N          imports a minute for the high-rate pass
  --seconds N       length of the rate passes
  --jobs N          jobs of the queue benchmarks
  --report FILE     write the report here (default bench/REPORT.md)`);
  const { values: v } = parseArgs({
    options: {
      quick: { type: 'boolean', default: false },
      only: { type: 'string' },
      'size-gb': { type: 'string' },
      rate: { type: 'string' },
      seconds: { type: 'string' },
      jobs: { type: 'string' },
      report: { type: 'string' },
    },
  });
  const o: RunOptions = {
    quick: v.quick!,
    sizeGb: v['size-gb'] === undefined ? undefined : positive('size-gb', v['size-gb'], 1),
    rate: v.rate === undefined ? undefined : positive('rate', v.rate, 600),
    seconds: v.seconds === undefined ? undefined : positive('seconds', v.seconds, 90),
    jobs: v.jobs === undefined ? undefined : Math.round(positive('jobs', v.jobs, 5000)),
  };
  const only = v.only?.split(',').map((s) => s.trim());
  const selected = benches(o).filter((b) => !only || only.includes(b.name));
  if (only && selected.length !== only.length)
    throw new Error(
      `--only names unknown benches; known: ${benches(o)
        .map((b) => b.name)
        .join(', ')}`,
    );

  const entries: BenchEntry[] = [];
  for (const bench of selected) {
    say('run', `${bench.name}…`);
    const started = Date.now();
    try {
      const result = await bench.run();
      entries.push({ name: bench.name, seconds: (Date.now() - started) / 1000, result });
      process.stdout.write(`${renderResult(result)}\n`);
    } catch (err) {
      entries.push({ name: bench.name, seconds: (Date.now() - started) / 1000, error: (err as Error).message });
      say('run', `${bench.name} failed: ${(err as Error).stack}`);
    }
  }

  const report = {
    date: new Date().toISOString(),
    command: ['pnpm bench', ...process.argv.slice(2)].join(' '),
    machine: machine(),
    entries,
  };
  mkdirSync(OUT_DIR, { recursive: true });
  const mdPath = v.report
    ? path.resolve(v.report)
    : o.quick
      ? path.join(OUT_DIR, 'REPORT-quick.md')
      : path.join(__dirname, 'REPORT.md');
  const jsonName = v.report
    ? `${path.basename(v.report, '.md').toLowerCase()}.json`
    : o.quick
      ? 'report-quick.json'
      : 'report.json';
  writeFileSync(mdPath, `${markdown(report)}\n`);
  writeFileSync(path.join(OUT_DIR, jsonName), `${JSON.stringify(report, null, 2)}\n`);
  say('run', `wrote ${path.relative(process.cwd(), mdPath)}`);
  return entries.some((e) => e.error) ? 1 : 0;
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    process.stderr.write(`bench: ${(err as Error).message}\n`);
    process.exit(1);
  },
);
