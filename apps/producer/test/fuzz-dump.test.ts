/**
 * Fuzzing the dump path: valid generator dumps, mutated (type swaps at every field, truncations, huge and
 * hostile strings, odd amounts, orphan and duplicate ids, nesting bombs, byte edits, CRLF/BOM/blank lines,
 * over-long lines, corrupt gzip), read by the real reader, planned, and enqueued by `run` into a private Redis.
 * The promise under test: a bad record is reported with its line and a reason, every good record still
 * converts into a payload the worker accepts, counts add up, and a broken file fails fast with a clear error.
 * Seeded: a failure prints its seed; FUZZ_SEED=<n> replays it.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { gzipSync } from 'node:zlib';
import { Queue } from 'bullmq';
import IORedis from 'ioredis';
import { SOURCE_FORMATS, absDecimal, fixtures, type SourceFormat } from '@mk/converters';
import { QUEUES, importJobSchema, planImport, type ImportJob, type SealedImportJob } from '@mk/shared';
import {
  NASTY_STRINGS,
  REMOVE,
  alienValues,
  createFuzzRng,
  fuzzSeed,
  getAt,
  jsonPaths,
  mutateBytes,
  nestingBomb,
  randomJson,
  setAt,
  measureSlowdown,
  startPrivateRedis,
  testSealer,
  TEST_PAYLOAD_KEYS,
  trackUnhandledRejections,
  truncate,
  withinMs,
  type FuzzRng,
  type JsonPath,
  type PrivateRedis,
} from '@mk/testkit';
import { DumpReadError, readDump, type DumpEntry, type DumpResult, type ReadDumpOptions } from '../src/dump';
import { EXIT, main, plan } from '../src';

const SEED = fuzzSeed(60_601);
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mk-fuzz-dump-'));
const unhandled = trackUnhandledRejections();
const quiet = { out: () => undefined, err: () => undefined };

beforeAll(() => process.stderr.write(`fuzz-dump seed ${SEED} (FUZZ_SEED=${SEED} to replay)\n`));
afterAll(() => {
  unhandled.stop();
  fs.rmSync(dir, { recursive: true, force: true });
});
afterEach(() => expect(unhandled.reasons).toEqual([]));

type Json = Record<string, unknown>;
type Expect = 'ok' | 'rejected' | 'either';
interface Case {
  label: string;
  line: string;
  expect: Expect;
  /** What the reject reason must say. */
  reason?: RegExp;
  /** Extra checks on a converted record. */
  check?: (result: Extract<DumpResult, { ok: true }>) => void;
}

// ---------- the valid material: a few generated users per format ----------

function baseRecords(format: SourceFormat, users = 4): { record: Json; userId: string }[] {
  return [...fixtures.dumpLines({ users, format, txPerAccount: 3, seed: SEED })]
    .filter((l): l is Extract<fixtures.DumpLine, { kind: 'user' }> => l.kind === 'user')
    .map((l) => ({ record: JSON.parse(l.line) as Json, userId: l.userId }));
}
const BASE = Object.fromEntries(SOURCE_FORMATS.map((f) => [f, baseRecords(f)])) as Record<
  SourceFormat,
  { record: Json; userId: string }[]
>;

/** Where each format keeps accounts and transactions, and the keys that link and name them. */
const SHAPE: Record<
  SourceFormat,
  { accounts: JsonPath; transactions: JsonPath; accountRef: string; txId: string; amount: JsonPath; name: JsonPath }
> = {
  plaid: {
    accounts: ['items', 0, 'accounts'],
    transactions: ['items', 0, 'transactions'],
    accountRef: 'account_id',
    txId: 'transaction_id',
    amount: ['amount'],
    name: ['name'],
  },
  mx: {
    accounts: ['accounts'],
    transactions: ['transactions'],
    accountRef: 'account_guid',
    txId: 'guid',
    amount: ['amount'],
    name: ['description'],
  },
  yodlee: {
    accounts: ['account'],
    transactions: ['transaction'],
    accountRef: 'accountId',
    txId: 'id',
    amount: ['amount', 'amount'],
    name: ['description', 'simple'],
  },
  finicity: {
    accounts: ['accounts'],
    transactions: ['transactions'],
    accountRef: 'accountId',
    txId: 'id',
    amount: ['amount'],
    name: ['description'],
  },
  akoya: {
    accounts: ['providers', 0, 'accounts'],
    transactions: ['providers', 0, 'transactions'],
    accountRef: 'accountId',
    txId: 'transactionId',
    amount: ['amount'],
    name: ['description'],
  },
  canonical: {
    accounts: ['connections', 0, 'request', 'accounts'],
    transactions: ['connections', 0, 'request', 'transactions'],
    accountRef: 'account_id',
    txId: 'transaction_id',
    amount: ['amount'],
    name: ['description'],
  },
};

/** Akoya wraps each account/transaction in a one-key family object ({ depositTransaction: {...} }). */
const innerPath = (format: SourceFormat, record: Json, entry: JsonPath): JsonPath =>
  format === 'akoya' ? [...entry, Object.keys(getAt(record, entry) as Json)[0]!] : entry;

/** The first user of `format` that has transactions, and the path of its first transaction. */
function withTransactions(format: SourceFormat, index = 0): { record: Json; tx: JsonPath } {
  const found = BASE[format].filter(
    (b) => (getAt(b.record, SHAPE[format].transactions) as unknown[] | undefined)?.length,
  )[index];
  if (!found) throw new Error(`no ${format} user with transactions`);
  return { record: found.record, tx: innerPath(format, found.record, [...SHAPE[format].transactions, 0]) };
}

// ---------- the invariants every converted record must hold ----------

const PLAIN_DECIMAL = /^-?\d+(\.\d+)?$/;

function assertCalendarDate(date: string, where: string): void {
  const day = date.slice(0, 10);
  const parsed = new Date(`${day}T00:00:00Z`);
  if (Number.isNaN(parsed.getTime()) || parsed.toISOString().slice(0, 10) !== day)
    throw new Error(`${where}: '${date}' is not a real date`);
}

/** The payload `run` would enqueue for this record passes the worker's schema; amounts and dates are sound. */
function assertGoodPayload(job: ImportJob, where: string): void {
  const parsed = importJobSchema.safeParse(job);
  if (!parsed.success)
    throw new Error(`${where}: payload fails importJobSchema: ${JSON.stringify(parsed.error.issues[0])}`);
  for (const c of job.connections) {
    for (const a of c.request.accounts) {
      for (const [k, v] of Object.entries(a.balances)) {
        if (typeof v === 'number' && !Number.isFinite(v)) throw new Error(`${where}: balance ${k} is ${v}`);
      }
      if (a.balances.balance_date !== undefined) assertCalendarDate(a.balances.balance_date, `${where} balance_date`);
    }
    for (const t of c.request.transactions) {
      if (!PLAIN_DECIMAL.test(t.amount) || t.amount === '-0' || /^-0(\.0+)?$/.test(t.amount))
        throw new Error(`${where}: amount '${t.amount}' is not a plain decimal`);
      assertCalendarDate(t.date, `${where} date`);
    }
  }
  // What the worker gets is the JSON text of the payload: it must pass the schema after the round trip too.
  const wire = importJobSchema.safeParse(JSON.parse(JSON.stringify(job)));
  if (!wire.success)
    throw new Error(`${where}: payload fails importJobSchema after JSON: ${JSON.stringify(wire.error.issues[0])}`);
}

function jobOf(result: Extract<DumpResult, { ok: true }>, line: number): ImportJob {
  return {
    runId: 'fuzz',
    sourceUserId: result.user.sourceUserId,
    line,
    connections: result.user.connections.map(({ connectionId, request }) => ({ connectionId, request })),
  };
}

// ---------- running cases through the reader and plan ----------

const BLANKS = ['', '   ', '\t', '\r', ' \t \r'];

/** Writes the cases one a line with blank lines sprinkled in; returns each case's line number. */
function writeCases(name: string, cases: Case[], rng: FuzzRng): { file: string; lineOf: number[]; nonBlank: number } {
  const lines: string[] = [];
  const lineOf: number[] = [];
  for (const c of cases) {
    if (rng.chance(0.05)) lines.push(rng.pick(BLANKS));
    lines.push(c.line);
    lineOf.push(lines.length);
  }
  const file = path.join(dir, name);
  fs.writeFileSync(file, lines.join('\n') + '\n');
  return { file, lineOf, nonBlank: cases.length };
}

async function collect(source: string, opts?: ReadDumpOptions): Promise<DumpEntry[]> {
  const out: DumpEntry[] = [];
  for await (const e of readDump(source, opts)) out.push(e);
  return out;
}

/** Reads the cases with readDump and plans them; checks every case, the counts and the rejects file. */
async function runCases(
  name: string,
  cases: Case[],
  rng: FuzzRng,
  opts: ReadDumpOptions = {},
): Promise<{ entries: DumpEntry[]; ok: number; rejected: number }> {
  const { file, lineOf, nonBlank } = writeCases(name, cases, rng);
  // Strict unless a case says otherwise: what is checked here is which records are refused and why.
  // A hang guard, not a speed claim: it stretches with how busy the machine is right now.
  const deadlineMs = 30_000 * Math.max(1, measureSlowdown());
  const entries = await withinMs(collect(file, { onBadRow: 'reject', ...opts }), deadlineMs, `reading ${name}`);
  // One entry per non-blank line, in order, at the line the case was written to.
  expect(entries.map((e) => e.line)).toEqual(lineOf);

  const problems: string[] = [];
  let ok = 0;
  entries.forEach((entry, i) => {
    const c = cases[i]!;
    const where = `${name} line ${entry.line} (${c.label})`;
    const r = entry.result;
    try {
      if (r.ok) {
        ok++;
        if (c.expect === 'rejected')
          throw new Error(`converted, expected a reject${c.reason ? ` matching ${c.reason}` : ''}`);
        assertGoodPayload(jobOf(r, entry.line), where);
        c.check?.(r);
      } else {
        if (c.expect === 'ok') throw new Error(`rejected: ${r.reason}`);
        if (typeof r.reason !== 'string' || r.reason.trim().length < 5)
          throw new Error(`reject without a usable reason: ${JSON.stringify(r.reason)}`);
        // A converter that throws anything but a RecordError is a bug, even though the reader survives it.
        if (r.reason.startsWith('internal converter error')) throw new Error(r.reason);
        if (c.reason && !c.reason.test(r.reason)) throw new Error(`reason '${r.reason}' does not match ${c.reason}`);
        if (/@example\.com/.test(r.reason)) throw new Error(`reason leaks an email: ${r.reason}`);
      }
    } catch (e) {
      problems.push(`${where}: ${(e as Error).message}`);
    }
  });
  expect(problems.slice(0, 20)).toEqual([]);
  const rejected = entries.length - ok;
  expect(ok + rejected).toBe(nonBlank);

  // plan over the same file: every line is a user or a reject, and the rejects file says which and why.
  const rejectsPath = path.join(dir, `${name}.rejects.ndjson`);
  const summary = await withinMs(
    plan(file, { ratePerMinute: 60, rejectsPath, onBadRow: 'reject', ...(opts.pending && { pending: opts.pending }) }),
    deadlineMs,
    `planning ${name}`,
  );
  // no file at all when nothing was rejected
  expect(fs.existsSync(rejectsPath)).toBe(summary.rejects > 0);
  const rows =
    summary.rejects === 0
      ? []
      : fs
          .readFileSync(rejectsPath, 'utf8')
          .split('\n')
          .filter(Boolean)
          .map((l) => JSON.parse(l) as { line: number; reason: string; sourceId?: string });
  expect(rows).toHaveLength(summary.rejects);
  for (const row of rows) {
    expect(Number.isInteger(row.line) && row.line >= 1).toBe(true);
    expect(typeof row.reason === 'string' && row.reason.length >= 5).toBe(true);
  }
  const rejectLines = new Set(rows.map((r) => r.line));
  for (const e of entries) if (!e.result.ok) expect(rejectLines.has(e.line)).toBe(true);
  // Counts add up: users + lines refused whole (by the reader, or by plan's 1 MB check) = non-blank lines.
  expect(summary.userRecords + entries.filter(refusedWhole).length + repeatedLines(entries)).toBe(nonBlank);
  return { entries, ok, rejected };
}

/** Lines every importable connection of which an earlier line already holds (rejected as duplicates). */
function repeatedLines(entries: DumpEntry[]): number {
  const seen = new Set<string>();
  let repeated = 0;
  for (const e of entries) {
    if (!e.result.ok || refusedWhole(e)) continue;
    const { user } = e.result;
    const importable = user.connections.filter((c) => {
      try {
        planImport(c.request);
        return true;
      } catch {
        return false;
      }
    });
    const fields = importable.map((c) => `${user.sourceUserId}\t${c.connectionId}`);
    if (fields.every((f) => seen.has(f))) repeated++;
    fields.forEach((f) => seen.add(f));
  }
  return repeated;
}

/** A line nothing comes of: refused by the reader, or every connection of it can never fit the 1 MB rule. */
function refusedWhole(entry: DumpEntry): boolean {
  if (!entry.result.ok) return true;
  return entry.result.user.connections.every((c) => {
    try {
      planImport(c.request);
      return false;
    } catch {
      return true;
    }
  });
}

// ---------- the cases ----------

describe(`dump fuzzing (seed ${SEED})`, () => {
  it('survives a wrong type (or a removal) at every field position of every format', async () => {
    const rng = createFuzzRng(SEED + 1);
    const cases: Case[] = [];
    for (const format of SOURCE_FORMATS) {
      const { record } = BASE[format][0]!;
      cases.push({ label: `${format} untouched`, line: JSON.stringify(record), expect: 'ok' });
      for (const p of jsonPaths(record)) {
        for (const v of alienValues(getAt(record, p))) {
          cases.push({
            label: `${format} ${p.join('.')} = ${v === REMOVE ? '(removed)' : JSON.stringify(v)}`,
            line: JSON.stringify(setAt(record, p, v)),
            expect: 'either',
          });
        }
      }
    }
    const { ok, rejected } = await runCases('type-swaps.ndjson', cases, rng);
    expect(cases.length).toBeGreaterThan(3000);
    // Both outcomes are common: optional fields tolerate a swap, required ones refuse it.
    expect(ok).toBeGreaterThan(500);
    expect(rejected).toBeGreaterThan(500);
  });

  it('rejects truncated lines as invalid JSON and keeps the lines around them', async () => {
    const rng = createFuzzRng(SEED + 2);
    const cases: Case[] = [];
    for (let i = 0; i < 300; i++) {
      const format = rng.pick(SOURCE_FORMATS);
      const line = JSON.stringify(rng.pick(BASE[format]).record);
      if (rng.chance(0.3)) cases.push({ label: `${format} intact`, line, expect: 'ok' });
      else
        cases.push({
          label: `${format} truncated`,
          line: truncate(rng, line),
          expect: 'rejected',
          reason: /^invalid JSON: /,
        });
    }
    await runCases('truncated.ndjson', cases, rng);
  });

  it('copes with huge strings: readable lines convert, and what cannot fit 1 MB is refused by plan with a reason', async () => {
    const rng = createFuzzRng(SEED + 3);
    const big = (mb: number) => 'x'.repeat(Math.round(mb * 1024 * 1024));
    const cases: Case[] = [];
    for (const format of SOURCE_FORMATS) {
      const { record, tx } = withTransactions(format);
      cases.push({
        label: `${format} 2 MB description`,
        line: JSON.stringify(setAt(record, [...tx, ...SHAPE[format].name], big(2))),
        expect: 'either',
      });
      cases.push({
        label: `${format} 600 KB description`,
        line: JSON.stringify(setAt(record, [...tx, ...SHAPE[format].name], big(0.6))),
        expect: 'either',
      });
      const account = innerPath(format, record, [...SHAPE[format].accounts, 0]);
      const nameKey = format === 'akoya' ? 'productName' : format === 'yodlee' ? 'accountName' : 'name';
      cases.push({
        label: `${format} 3 MB account name`,
        line: JSON.stringify(setAt(record, [...account, nameKey], big(3))),
        expect: 'either',
      });
    }
    cases.push({
      label: 'plaid 2 MB user id',
      line: JSON.stringify(setAt(BASE.plaid[0]!.record, ['user', 'id'], big(2))),
      expect: 'rejected',
      reason: /user id must be 4–150 characters/,
    });
    cases.push({
      label: 'plaid 2 MB unknown key',
      line: JSON.stringify({ ...BASE.plaid[1]!.record, junk: big(2) }),
      expect: 'ok',
    });
    const { entries } = await runCases('huge.ndjson', cases, rng, { pending: 'include' });

    // plan names the size rule for every connection that can never fit.
    const rows = fs
      .readFileSync(path.join(dir, 'huge.ndjson.rejects.ndjson'), 'utf8')
      .split('\n')
      .filter(Boolean)
      .map((l) => JSON.parse(l) as { line: number; reason: string });
    const sizeRefusals = rows.filter((r) => /over the 1000000-byte limit/.test(r.reason));
    const convertedOversized = entries.filter(
      (e, i) => e.result.ok && /2 MB description|3 MB account name/.test(cases[i]!.label),
    );
    expect(sizeRefusals.length).toBeGreaterThanOrEqual(convertedOversized.length);
    expect(convertedOversized.length).toBeGreaterThan(0);
  });

  it('keeps hostile unicode exactly (emoji, RTL, escaped NUL, lone surrogates) or refuses it with a reason', async () => {
    const rng = createFuzzRng(SEED + 4);
    const cases: Case[] = [];
    for (const format of SOURCE_FORMATS) {
      const { record } = BASE[format][1]!;
      const stringPaths = jsonPaths(record).filter((p) => typeof getAt(record, p) === 'string');
      for (const nasty of NASTY_STRINGS) {
        for (const p of rng.shuffle([...stringPaths]).slice(0, 12))
          cases.push({
            label: `${format} ${p.join('.')} = ${JSON.stringify(nasty)}`,
            line: JSON.stringify(setAt(record, p, nasty)),
            expect: 'either',
          });
      }
      // The description is free text: it must come through byte for byte.
      const { record: r2, tx } = withTransactions(format, 1);
      for (const nasty of NASTY_STRINGS.filter((s) => s.trim() !== '')) {
        cases.push({
          label: `${format} description ${JSON.stringify(nasty)}`,
          line: JSON.stringify(setAt(r2, [...tx, ...SHAPE[format].name], nasty)),
          expect: 'ok',
          check: (res) =>
            expect(res.user.connections.flatMap((c) => c.request.transactions.map((t) => t.description))).toContain(
              nasty,
            ),
        });
      }
    }
    // Raw bytes a JSON encoder would never write: a control character inside a string is invalid JSON.
    const plain = JSON.stringify(BASE.plaid[2]!.record);
    cases.push({
      label: 'raw NUL in a string',
      line: plain
        .replace('"Total Checking"', '"Total\u0000Checking"')
        .replace('"Premier Savings"', '"Premier\u0000Savings"'),
      expect: plain.includes('"Total Checking"') || plain.includes('"Premier Savings"') ? 'rejected' : 'either',
      reason: /invalid JSON/,
    });
    cases.push({
      label: 'raw NUL between tokens',
      line: plain.replace('{', '{\u0000'),
      expect: 'rejected',
      reason: /invalid JSON/,
    });
    await runCases('unicode.ndjson', cases, rng, { pending: 'include' });

    // Invalid UTF-8 (a lone surrogate's bytes, 0xFF) inside a string: decoded as U+FFFD, never a crash.
    const bytes = Buffer.from(plain);
    const at = bytes.indexOf('"Starbucks"') + 1;
    const broken =
      at > 0
        ? Buffer.concat([bytes.subarray(0, at), Buffer.from([0xed, 0xa0, 0x80, 0xff]), bytes.subarray(at)])
        : bytes;
    const file = path.join(dir, 'bad-utf8.ndjson');
    fs.writeFileSync(
      file,
      Buffer.concat([broken, Buffer.from('\n'), Buffer.from(JSON.stringify(BASE.mx[0]!.record)), Buffer.from('\n')]),
    );
    const entries = await collect(file, { pending: 'include' });
    expect(entries.map((e) => e.line)).toEqual([1, 2]);
    for (const e of entries) if (e.result.ok) assertGoodPayload(jobOf(e.result, e.line), `bad-utf8 line ${e.line}`);
  });

  it('reads odd amounts exactly or refuses them: never NaN, Infinity, an exponent or a float', async () => {
    const rng = createFuzzRng(SEED + 5);
    // [literal as written in the JSON text, expected absolute decimal or a reject reason]
    const AMOUNTS: [string, string | RegExp][] = [
      ['NaN', /invalid JSON/],
      ['Infinity', /invalid JSON/],
      ['-Infinity', /invalid JSON/],
      ['"NaN"', /not a decimal/],
      ['"Infinity"', /not a decimal/],
      ['1e400', /out of range/],
      ['-1e400', /out of range/],
      ['1e-400', /out of range/],
      ['"1e400"', /out of range/],
      ['1E+999999', /not a decimal|out of range/],
      ['"1e3"', '1000'],
      ['1e3', '1000'],
      ['1.5e2', '150'],
      ['2.50E-1', '0.25'],
      ['-0', '0'],
      ['"-0"', '0'],
      ['-0.00', '0'],
      ['0', '0'],
      ['12345678901234567890.123456789', '12345678901234567890.123456789'],
      ['0.1', '0.1'],
      ['"  42.10 "', '42.10'],
      ['"+7"', '7'],
      ['".5"', '0.5'],
      ['"5."', '5'],
      ['9007199254740993', '9007199254740993'],
      ['"12,50"', /not a decimal/],
      ['"0x1F"', /not a decimal/],
      ['""', /not a decimal|is missing/],
      ['"-"', /not a decimal/],
      ['true', /not a decimal/],
      ['null', /not a decimal|is missing|expected/],
      ['[]', /not a decimal|expected/],
      ['{}', /not a decimal|expected/],
      ['"1e3e3"', /not a decimal/],
      ['"١٢٣"', /not a decimal/],
      ['1' + '0'.repeat(40), /out of range/],
      ['"' + '9'.repeat(5000) + '"', /out of range/],
    ];
    const cases: Case[] = [];
    for (const format of SOURCE_FORMATS) {
      const { record, tx } = withTransactions(format);
      const amountPath = [...tx, ...SHAPE[format].amount];
      // Yodlee nests the money object; swapping the amount object itself must be refused too.
      const text = JSON.stringify(setAt(record, amountPath, '__AMOUNT__'));
      for (const [literal, expected] of AMOUNTS) {
        const line = text.replace('"__AMOUNT__"', literal);
        if (typeof expected === 'string') {
          cases.push({
            label: `${format} amount ${literal}`,
            line,
            expect: 'ok',
            check: (res) =>
              expect(
                res.user.connections.flatMap((c) => c.request.transactions.map((t) => absDecimal(t.amount))),
              ).toContain(expected),
          });
        } else
          cases.push({ label: `${format} amount ${literal.slice(0, 20)}`, line, expect: 'rejected', reason: expected });
      }
      // Balances are JSON numbers for MoneyKit: whatever they were, they arrive finite or the record is refused.
      const account = innerPath(format, record, [...SHAPE[format].accounts, 0]);
      const balanceKey = {
        plaid: ['balances', 'current'],
        mx: ['balance'],
        yodlee: ['balance', 'amount'],
        finicity: ['balance'],
        akoya: ['currentBalance'],
        canonical: ['balances', 'current'],
      }[format];
      const balanceText = JSON.stringify(setAt(record, [...account, ...balanceKey], '__AMOUNT__'));
      for (const [literal] of AMOUNTS)
        cases.push({
          label: `${format} balance ${literal.slice(0, 20)}`,
          line: balanceText.replace('"__AMOUNT__"', literal),
          expect: 'either',
        });
    }
    await runCases('amounts.ndjson', rng.shuffle(cases), rng, { pending: 'include' });
  });

  it('refuses transactions of unknown accounts, duplicate accounts, duplicate transactions and fake dates, naming them', async () => {
    const rng = createFuzzRng(SEED + 6);
    const cases: Case[] = [];
    for (const format of SOURCE_FORMATS) {
      const { record, tx } = withTransactions(format);
      const s = SHAPE[format];
      cases.push({
        label: `${format} orphan`,
        line: JSON.stringify(setAt(record, [...tx, s.accountRef], 'no-such-account')),
        expect: 'rejected',
        reason: /not an account|does not match any account/,
      });
      const accounts = getAt(record, s.accounts) as unknown[];
      cases.push({
        label: `${format} duplicate account`,
        line: JSON.stringify(setAt(record, s.accounts, [...accounts, accounts[0]])),
        expect: 'rejected',
        reason: /duplicate account/,
      });
      const txs = getAt(record, s.transactions) as unknown[];
      cases.push({
        label: `${format} duplicate transaction`,
        line: JSON.stringify(setAt(record, s.transactions, [...txs, txs[0]])),
        expect: 'rejected',
        reason: /duplicate transaction/,
      });
      const dateKey = {
        plaid: 'date',
        mx: 'posted_at',
        yodlee: 'postDate',
        finicity: 'postedDate',
        akoya: 'postedTimestamp',
        canonical: 'date',
      }[format];
      for (const bad of ['2025-13-45', '2025-02-30', '0000-00-00', '2025-06-31T12:00:00Z', 'yesterday', 1e12, -5]) {
        cases.push({
          label: `${format} date ${bad}`,
          line: JSON.stringify(setAt(record, [...tx, dateKey], bad)),
          expect: 'either',
        });
      }
      cases.push({ label: `${format} intact`, line: JSON.stringify(record), expect: 'ok' });
    }
    // The generator's own malformed kinds, for good measure.
    fixtures.BAD_KINDS.forEach((kind, i) =>
      cases.push({ label: `fixture ${kind}`, line: fixtures.badLine(kind, i + 1), expect: 'rejected' }),
    );
    await runCases('ids.ndjson', cases, rng, { pending: 'include' });
  });

  it('refuses nesting bombs 10,000 deep without a stack overflow, wherever they sit', async () => {
    const rng = createFuzzRng(SEED + 7);
    const record = JSON.stringify(BASE.plaid[0]!.record);
    const objectBomb = '{"a":'.repeat(10_000) + '1' + '}'.repeat(10_000);
    const cases: Case[] = [
      {
        label: 'array bomb line',
        line: nestingBomb(10_000),
        expect: 'rejected',
        reason: /nesting deeper than 64 levels/,
      },
      { label: 'object bomb line', line: objectBomb, expect: 'rejected', reason: /nesting deeper than 64 levels/ },
      {
        label: 'bomb in a field',
        line: record.replace(/}$/, `,"junk":${nestingBomb(10_000)}}`),
        expect: 'rejected',
        reason: /nesting deeper than/,
      },
      { label: 'unclosed bomb', line: '['.repeat(10_000), expect: 'rejected', reason: /nesting deeper than/ },
      { label: 'closing bomb', line: ']'.repeat(10_000), expect: 'rejected', reason: /invalid JSON/ },
      { label: 'bomb inside a string', line: record.replace(/}$/, `,"note":"${nestingBomb(10_000)}"}`), expect: 'ok' },
      { label: 'bomb inside a key', line: record.replace(/}$/, `,"${'{'.repeat(10_000)}":1}`), expect: 'ok' },
      { label: 'depth exactly 64', line: record.replace(/}$/, `,"junk":${nestingBomb(63)}}`), expect: 'ok' },
      { label: 'intact', line: record, expect: 'ok' },
    ];
    await runCases('bombs.ndjson', cases, rng);
  });

  it('survives random byte edits, random values and spliced lines', async () => {
    const rng = createFuzzRng(SEED + 8);
    const all = SOURCE_FORMATS.flatMap((f) => BASE[f].map((b) => b.record));
    const cases: Case[] = [];
    for (let i = 0; i < 1500; i++) {
      const record = rng.pick(all);
      const text = JSON.stringify(record);
      switch (rng.int(0, 3)) {
        case 0:
          cases.push({
            label: `byte edits #${i}`,
            line: mutateBytes(rng, Buffer.from(text), rng.int(1, 6), [0x0a]).toString('utf8'),
            expect: 'either',
          });
          break;
        case 1: {
          let m: unknown = record;
          for (let k = rng.int(1, 4); k > 0; k--) m = setAt(m, rng.pick(jsonPaths(m)), randomJson(rng));
          cases.push({ label: `random values #${i}`, line: JSON.stringify(m), expect: 'either' });
          break;
        }
        case 2: {
          const other = JSON.stringify(rng.pick(all));
          cases.push({
            label: `splice #${i}`,
            line: text.slice(0, rng.int(1, text.length - 1)) + other.slice(rng.int(1, other.length - 1)),
            expect: 'either',
          });
          break;
        }
        default:
          cases.push({ label: `intact #${i}`, line: text, expect: 'ok' });
      }
    }
    // A byte edit can create an empty-looking line: keep only lines the reader will see.
    const kept = cases.filter((c) => c.line.replace(/[ \t\r\uFEFF]/g, '') !== '');
    await runCases('random.ndjson', kept, rng);
  });

  it('reads CRLF endings, a BOM, blank lines of every kind and a missing final newline like a clean file', async () => {
    const lines = SOURCE_FORMATS.map((f) => JSON.stringify(BASE[f][2]!.record));
    const clean = path.join(dir, 'clean.ndjson');
    fs.writeFileSync(clean, lines.join('\n') + '\n');
    const messy = path.join(dir, 'messy.ndjson');
    const body: string[] = [];
    for (const l of lines) body.push(l, '', '  \t', '\uFEFF');
    fs.writeFileSync(messy, '\uFEFF' + body.join('\r\n').replace(/\r\n$/, '').trimEnd());
    const a = await collect(clean);
    const b = await collect(messy);
    expect(b.map((e) => e.result)).toEqual(a.map((e) => e.result));
    expect(b.map((e) => e.line)).toEqual(lines.map((_, i) => 1 + i * 4));
    expect(b.every((e) => e.result.ok)).toBe(true);
    // gzip of the messy file: the same again.
    const gz = path.join(dir, 'messy.ndjson.gz');
    fs.writeFileSync(gz, gzipSync(fs.readFileSync(messy)));
    expect((await collect(gz)).map((e) => [e.line, e.result])).toEqual(b.map((e) => [e.line, e.result]));
    expect((await plan(messy, { ratePerMinute: 60 })).userRecords).toBe(lines.length);
  });

  it('reports a line over the limit and goes on; at the default 64 MB limit too', async () => {
    const rng = createFuzzRng(SEED + 9);
    const good = JSON.stringify(BASE.mx[1]!.record);
    const long = JSON.stringify({ ...BASE.plaid[1]!.record, pad: 'y'.repeat(200_000) });
    const cases: Case[] = [
      { label: 'before', line: good, expect: 'ok' },
      {
        label: 'too long',
        line: long,
        expect: 'rejected',
        reason: new RegExp(`line is ${long.length + 1} bytes, over the 131072-byte limit`),
      },
      {
        label: 'garbage too long',
        line: 'z'.repeat(300_000),
        expect: 'rejected',
        reason: /over the 131072-byte limit/,
      },
      { label: 'after', line: good.replace(/USR-/g, 'USR2-'), expect: 'ok' },
    ];
    const { file } = writeCases('long.ndjson', cases, rng);
    const entries = await collect(file, { maxLineBytes: 128 * 1024 });
    expect(entries.map((e) => e.result.ok)).toEqual([true, false, false, true]);
    expect(entries[1]!.result).toMatchObject({ reason: cases[1]!.reason!.source.replace(/\\/g, '') });

    // A 65 MB line at the default limit, through the CLI's plan: reported, never buffered, the rest planned.
    const huge = path.join(dir, 'huge-line.ndjson');
    const out = fs.openSync(huge, 'w');
    fs.writeSync(out, good + '\n{"source":"plaid","pad":"');
    const mb = Buffer.alloc(1024 * 1024, 0x61);
    for (let i = 0; i < 65; i++) fs.writeSync(out, mb);
    fs.writeSync(out, '"}\n' + JSON.stringify(BASE.akoya[1]!.record) + '\n');
    fs.closeSync(out);
    const printed: string[] = [];
    const rejectsPath = path.join(dir, 'huge-line.rejects.ndjson');
    const code = await withinMs(
      main(
        ['plan', huge, '--json', '--rejects', rejectsPath],
        { LOG_LEVEL: 'silent' },
        { out: (s) => printed.push(s), err: () => undefined },
      ),
      30_000,
      'plan of a 65 MB line',
    );
    expect(code).toBe(EXIT.partial);
    expect(JSON.parse(printed.join('\n'))).toMatchObject({ userRecords: 2, rejects: 1 });
    expect(JSON.parse(fs.readFileSync(rejectsPath, 'utf8'))).toMatchObject({
      line: 2,
      reason: expect.stringMatching(/over the 67108864-byte limit/),
    });
    fs.rmSync(huge);
  });
});

describe('whole-file errors', () => {
  const dumpText = () =>
    [...fixtures.dumpLines({ users: 200, format: 'mixed', txPerAccount: 4, seed: SEED, badShare: 0.05 })]
      .map((l) => l.line)
      .join('\n') + '\n';

  /** Reads to the end or to the error; must settle quickly either way. */
  async function readAll(file: string): Promise<{ entries: DumpEntry[]; error?: unknown }> {
    const entries: DumpEntry[] = [];
    try {
      for await (const e of readDump(file)) entries.push(e);
      return { entries };
    } catch (error) {
      return { entries, error };
    }
  }

  it('fails fast with a clear error on corrupt or truncated gzip, from readDump, plan and the CLI', async () => {
    const rng = createFuzzRng(SEED + 10);
    const gz = gzipSync(dumpText());
    const variants: [string, Buffer][] = [
      ['truncated at half', gz.subarray(0, gz.length >> 1)],
      ['truncated before the trailer', gz.subarray(0, gz.length - 4)],
      ['header only', gz.subarray(0, 10)],
      ['magic bytes only', gz.subarray(0, 2)],
      ['garbage after the magic', Buffer.concat([gz.subarray(0, 2), rng.bytes(4096)])],
    ];
    for (let i = 0; i < 12; i++) {
      const corrupt = Buffer.from(gz);
      const at = rng.int(20, gz.length - 20);
      for (let k = 0; k < 8; k++) corrupt[at + k] = rng.int(0, 255);
      variants.push([`corrupt at byte ${at}`, corrupt]);
    }
    variants.push([
      'corrupt CRC',
      Buffer.concat([gz.subarray(0, gz.length - 8), Buffer.from([0, 0, 0, 0]), gz.subarray(gz.length - 4)]),
    ]);

    for (const [label, bytes] of variants) {
      const file = path.join(dir, `broken-${label.replace(/\W+/g, '-')}.ndjson.gz`);
      fs.writeFileSync(file, bytes);
      const { entries, error } = await withinMs(readAll(file), 10_000, `reading gzip ${label}`);
      expect({ label, error: error instanceof DumpReadError }).toEqual({ label, error: true });
      expect((error as Error).message).toMatch(/^cannot read dump after line \d+: gzip data is corrupt or truncated/);
      // Whatever was decoded before the damage was reported line by line, not lost in silence.
      entries.forEach((e, i) => i > 0 && expect(e.line).toBeGreaterThan(entries[i - 1]!.line));

      await expect(withinMs(plan(file, { ratePerMinute: 60 }), 10_000, `plan of ${label}`)).rejects.toThrow(
        /gzip data is corrupt or truncated/,
      );
      const err: string[] = [];
      expect(
        await withinMs(
          main(['plan', file], { LOG_LEVEL: 'silent' }, { out: () => undefined, err: (s) => err.push(s) }),
          10_000,
          `CLI plan of ${label}`,
        ),
      ).toBe(EXIT.error);
      expect(err.join('\n')).toMatch(/cannot read dump after line \d+: gzip data is corrupt or truncated/);
    }
  });

  it('says clearly when the dump is missing, a directory, or empty', async () => {
    const err: string[] = [];
    const io = { out: () => undefined, err: (s: string) => err.push(s) };
    expect(await main(['plan', path.join(dir, 'nope.ndjson')], { LOG_LEVEL: 'silent' }, io)).toBe(EXIT.error);
    expect(err.pop()).toMatch(/cannot read dump '.*nope\.ndjson'/);
    expect(await main(['plan', dir], { LOG_LEVEL: 'silent' }, io)).toBe(EXIT.error);
    expect(err.pop()).toMatch(/is a folder, expected an NDJSON dump file/);
    const empty = path.join(dir, 'empty.ndjson');
    fs.writeFileSync(empty, '');
    const plain = await readAll(empty);
    expect(plain.entries).toEqual([]);
    expect(String(plain.error)).toMatch(/is empty/);
    const emptyGz = path.join(dir, 'empty.ndjson.gz');
    fs.writeFileSync(emptyGz, gzipSync(''));
    const gz = await readAll(emptyGz);
    expect(gz.entries).toEqual([]);
    expect(String(gz.error)).toMatch(/is empty/);
  });

  it('stops at start with a message naming the bad setting, whatever garbage it holds', async () => {
    const rng = createFuzzRng(SEED + 11);
    const GARBAGE = [
      '',
      ' ',
      'lots',
      '-1',
      '0',
      '1.5',
      'NaN',
      'Infinity',
      '1e400',
      '0x10',
      '😀',
      '\u0000',
      'null',
      '[]',
    ];
    const SETTINGS: Record<string, (v: string) => boolean> = {
      // Numbers as JavaScript reads them ('0x10' is 16): what matters is that a refusal names the setting.
      PRODUCER_MAX_WAITING: (v) => Number.isInteger(Number(v)) && Number(v) >= 1,
      IMPORT_RATE_PER_MIN: (v) => Number.isInteger(Number(v)) && Number(v) >= 1,
      LOG_LEVEL: () => false,
      REDIS_URL: () => false,
      NODE_ENV: () => false,
    };
    for (const [setting, accepts] of Object.entries(SETTINGS)) {
      // Random text can be a syntactically valid URL ('ab:c'), which only fails on connecting: REDIS_URL gets the fixed list.
      const random = setting === 'REDIS_URL' ? [] : Array.from({ length: 4 }, () => String(randomJson(rng, 0)));
      for (const value of [...GARBAGE, ...random]) {
        if (accepts(value)) continue;
        const err: string[] = [];
        const code = await main(['status'], { [setting]: value }, { out: () => undefined, err: (s) => err.push(s) });
        expect({ setting, value, code }).toEqual({ setting, value, code: EXIT.error });
        expect(err.join('\n')).toContain(setting);
      }
    }
  });
});

describe('run: fuzzed dump enqueued into a private Redis (no worker)', () => {
  let server: PrivateRedis;
  let redis: IORedis;
  beforeAll(async () => {
    server = await startPrivateRedis({ aof: true });
    redis = new IORedis(server.url, { maxRetriesPerRequest: null });
  });
  afterAll(async () => {
    redis.disconnect();
    await server.stop();
  });

  it('enqueues exactly the good users, each payload valid, and reports every other line with its reason', async () => {
    const rng = createFuzzRng(SEED + 12);
    const source = [
      ...fixtures.dumpLines({ users: 240, format: 'mixed', txPerAccount: 4, seed: SEED + 12, badShare: 0.05 }),
    ];
    const lines: string[] = [];
    const intact: string[] = [];
    for (const l of source) {
      if (rng.chance(0.04)) lines.push(rng.pick(BLANKS));
      if (l.kind === 'bad' || rng.chance(0.55)) {
        lines.push(l.line);
        if (l.kind === 'user') intact.push(l.line);
        continue;
      }
      const record = JSON.parse(l.line) as Json;
      switch (rng.int(0, 4)) {
        case 0: {
          const p = rng.pick(jsonPaths(record));
          lines.push(JSON.stringify(setAt(record, p, rng.pick(alienValues(getAt(record, p))))));
          break;
        }
        case 1:
          lines.push(truncate(rng, l.line));
          break;
        case 2:
          lines.push(mutateBytes(rng, Buffer.from(l.line), rng.int(1, 3), [0x0a]).toString('utf8'));
          break;
        case 3: {
          const strings = jsonPaths(record).filter((p) => typeof getAt(record, p) === 'string');
          lines.push(JSON.stringify(setAt(record, rng.pick(strings), rng.pick(NASTY_STRINGS))));
          break;
        }
        default:
          lines.push(
            l.line.replace(
              /"amount":(-?[\d.]+)/,
              `"amount":${rng.pick(['1e400', 'NaN', '"1e3"', '-0', '1e-400', '"abc"'])}`,
            ),
          );
      }
    }
    lines.push(rng.pick(intact)); // the same user twice
    const dump = path.join(dir, 'run.ndjson.gz');
    fs.writeFileSync(dump, gzipSync(lines.join('\r\n')));

    // What the reader makes of it, for the expectations.
    const entries = await collect(dump);
    const nonBlank = lines.filter((l) => l.replace(/[ \t\r\uFEFF]/g, '') !== '').length;
    expect(entries).toHaveLength(nonBlank);
    const expected = await plan(dump, { ratePerMinute: 60 });

    const rejectsPath = path.join(dir, 'run.rejects.ndjson');
    const printed: string[] = [];
    const errors: string[] = [];
    const code = await withinMs(
      main(
        ['run', dump, '--run', 'fuzz-run', '--rejects', rejectsPath],
        { REDIS_URL: server.url, REDIS_PREFIX: '{fuzz}', LOG_LEVEL: 'silent', PAYLOAD_KEYS: TEST_PAYLOAD_KEYS },
        { out: (s) => printed.push(s), err: (s) => errors.push(s) },
      ),
      60_000,
      'producer run',
    );
    // enqueued (no worker here to import): what `run` without --wait is asked to do; the rejects file is named on stderr
    expect({ code, errors }).toEqual({ code: EXIT.success, errors: [`rejected records: ${rejectsPath}`] });
    const m = /read (\d+) users, enqueued (\d+), already done (\d+), rejected (\d+)/.exec(printed.join('\n'));
    expect(m).not.toBeNull();
    const [read, enqueued, done, rejected] = m!.slice(1).map(Number) as [number, number, number, number];
    expect(done).toBe(0);
    expect(read).toBe(expected.userRecords);

    const queue = new Queue(QUEUES.import, { connection: redis, prefix: '{fuzz}' });
    try {
      const jobs = await queue.getJobs(['wait', 'waiting', 'prioritized', 'delayed'], 0, -1);
      expect(jobs).toHaveLength(enqueued);
      const problems: string[] = [];
      for (const job of jobs) {
        try {
          // What the worker opens: the sealed payload, under this test's key and the job's run id.
          const data = job.data as SealedImportJob;
          assertGoodPayload(testSealer().open(data.sealed, data.runId) as ImportJob, `job ${job.id}`);
        } catch (e) {
          problems.push((e as Error).message);
        }
      }
      expect(problems).toEqual([]);
      // Every line read is enqueued; the repeated line's connections are all rejected, naming the line kept.
      const rows = fs
        .readFileSync(rejectsPath, 'utf8')
        .split('\n')
        .filter(Boolean)
        .map((l) => JSON.parse(l) as { line: number; reason: string });
      expect(rows).toHaveLength(rejected);
      const duplicates = rows.filter((r) => r.reason.startsWith('duplicate connection'));
      expect(duplicates.length).toBe(expected.duplicateConnections);
      expect(duplicates.length).toBeGreaterThanOrEqual(1);
      for (const d of duplicates)
        expect(d.reason).toMatch(new RegExp(`first read at line \\d+ \\(kept\\), again at line ${d.line}$`));
      const duplicateLines = new Set(duplicates.map((d) => d.line));
      expect(enqueued).toBe(read);
      // Every line the reader refused is in the rejects file, at its line, with a reason.
      const rejectLines = new Set(rows.map((r) => r.line));
      for (const e of entries) if (!e.result.ok) expect(rejectLines.has(e.line)).toBe(true);
      for (const r of rows) expect(r.reason.length).toBeGreaterThan(4);
      // Good users still converted: every converted line is queued, a repeat, or refused whole by the 1 MB rule.
      const queuedLines = new Set(jobs.map((j) => (j.data as ImportJob).line));
      expect(queuedLines.size).toBe(enqueued);
      const converted = entries.filter((e) => e.result.ok);
      expect(queuedLines.size + duplicateLines.size + converted.filter(refusedWhole).length).toBe(converted.length);
      // Counts add up: users read + lines refused whole = non-blank lines.
      expect(read + entries.filter(refusedWhole).length + duplicateLines.size).toBe(nonBlank);
      expect(repeatedLines(entries)).toBe(duplicateLines.size);
    } finally {
      await queue.close();
    }
  });
});
