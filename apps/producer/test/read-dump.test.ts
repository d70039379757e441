import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'fs';
import { tmpdir } from 'os';
import { join } from 'path';
import { Readable } from 'stream';
import { gzipSync } from 'zlib';
import { fixtures } from '@mk/converters';
import { DumpReadError, RejectsWriter, readDump, type DumpEntry, type ReadDumpOptions } from '../src/dump';

let dir: string;
beforeAll(() => (dir = mkdtempSync(join(tmpdir(), 'read-dump-'))));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

async function collect(source: string | Readable, opts?: ReadDumpOptions): Promise<DumpEntry[]> {
  const out: DumpEntry[] = [];
  for await (const e of readDump(source, opts)) out.push(e);
  return out;
}

const userLine = (n: number, format: fixtures.DumpFormat = 'plaid'): string => {
  const f = format === 'mixed' ? 'plaid' : format;
  return JSON.stringify(
    fixtures.renderUser(f, fixtures.generateUser(fixtures.createRng(n), n, { txPerAccount: 5 }), n),
  );
};

function file(name: string, content: string | Buffer): string {
  const p = join(dir, name);
  writeFileSync(p, content);
  return p;
}

describe('readDump', () => {
  const text =
    [
      userLine(1),
      '',
      '   ',
      userLine(2, 'mx'),
      'not json',
      '[1,2]',
      '{"rows":[]}',
      fixtures.badLine('nesting_bomb', 1),
      fixtures.badLine('bad_amount', 2),
      userLine(3, 'yodlee'),
    ].join('\n') + '\n';

  it('converts good lines, reports bad ones with their line numbers, and skips blank lines', async () => {
    const entries = await collect(file('mixed.ndjson', text));
    expect(entries.map((e) => e.line)).toEqual([1, 4, 5, 6, 7, 8, 9, 10]);
    const [u1, u2, notJson, arr, unknown, bomb, badAmount, u3] = entries.map((e) => e.result);
    expect(u1).toMatchObject({ ok: true, format: 'plaid', user: { sourceUserId: 'user-0000001' } });
    expect(u2).toMatchObject({ ok: true, format: 'mx' });
    expect(u3).toMatchObject({ ok: true, format: 'yodlee' });
    expect(notJson).toMatchObject({ ok: false, reason: expect.stringMatching(/^invalid JSON: /) });
    expect(arr).toEqual({ ok: false, reason: 'a record must be a JSON object, got an array' });
    expect(unknown).toMatchObject({ ok: false, reason: expect.stringContaining('unrecognised record format') });
    expect(bomb).toMatchObject({ ok: false, reason: expect.stringContaining('nesting deeper than 64 levels') });
    // One bad row costs one row: the user is read without it, the row is reported with its connection and field.
    expect(badAmount).toMatchObject({
      ok: true,
      user: {
        sourceUserId: 'bad-user-000002',
        stats: {
          transactions: 0,
          badRows: [
            {
              connectionId: 'plaid:bad-user-000002-item',
              field: 'items[0].transactions[0].amount',
              reason: 'items[0].transactions[0].amount: a string of 3 characters is not a decimal',
            },
          ],
        },
      },
    });
    expect(entries[0]!.bytes).toBe(Buffer.byteLength(userLine(1)) + 1);
  });

  it('reads gzip by its magic bytes whatever the file name, and gives the same results', async () => {
    const plain = await collect(file('a.ndjson', text));
    const gz = await collect(file('looks-plain.ndjson', gzipSync(text)));
    expect(gz.map((e) => [e.line, e.result])).toEqual(plain.map((e) => [e.line, e.result]));
    expect(gz[gz.length - 1]!.inputBytes).toBeLessThan(Buffer.byteLength(text));
  });

  it('reads a stdin-like stream delivered in tiny chunks, with CRLF endings, a BOM and no final newline', async () => {
    const body = '\uFEFF' + [userLine(1), userLine(2)].join('\r\n');
    const bytes = Buffer.from(body);
    const chunks: Buffer[] = [];
    for (let i = 0; i < bytes.length; i += 7) chunks.push(bytes.subarray(i, i + 7));
    const entries = await collect(Readable.from(chunks));
    expect(entries.map((e) => [e.line, e.result.ok])).toEqual([
      [1, true],
      [2, true],
    ]);
  });

  it('forces a format when asked', async () => {
    const entries = await collect(file('forced.ndjson', userLine(1, 'mx') + '\n'), { format: 'plaid' });
    expect(entries[0]!.result).toMatchObject({ ok: false, reason: 'items: expected an array, got undefined' });
  });

  it('rejects a line over the limit without buffering it, and carries on', async () => {
    const huge = JSON.stringify({ source: 'plaid', user: { id: 'user-huge' }, items: [], pad: 'x'.repeat(5000) });
    const entries = await collect(
      Readable.from([userLine(1) + '\n' + huge.slice(0, 3000), huge.slice(3000) + '\n' + userLine(2) + '\n']),
      { maxLineBytes: 4096 },
    );
    expect(entries.map((e) => e.line)).toEqual([1, 2, 3]);
    expect(entries[1]!.result).toEqual({
      ok: false,
      reason: `line is ${huge.length + 1} bytes, over the 4096-byte limit`,
    });
    expect(entries[2]!.result.ok).toBe(true);
  });

  it('handles a line far longer than one read chunk', async () => {
    const heavy = [...fixtures.dumpLines({ users: 1, format: 'akoya', seed: 2, heavyShare: 1 })][0]!.line;
    expect(heavy.length).toBeGreaterThan(1024 * 1024);
    const entries = await collect(file('heavy.ndjson.gz', gzipSync(heavy + '\n')));
    expect(entries).toHaveLength(1);
    expect(entries[0]!.result.ok && entries[0]!.result.user.stats.transactions).toBeGreaterThanOrEqual(5000);
  });

  it('resumes after a line without parsing the lines before it', async () => {
    const entries = await collect(file('resume.ndjson', text), { startAfterLine: 5 });
    expect(entries.map((e) => e.line)).toEqual([6, 7, 8, 9, 10]);
  });

  it('ends with a clear DumpReadError on corrupt or truncated gzip, after the lines it could read', async () => {
    const gz = gzipSync([userLine(1), userLine(2), userLine(3)].join('\n') + '\n');
    const truncated = file('truncated.gz', gz.subarray(0, gz.length - 40));
    const seen: number[] = [];
    await expect(
      (async () => {
        for await (const e of readDump(truncated)) seen.push(e.line);
      })(),
    ).rejects.toThrow(DumpReadError);
    expect(seen.length).toBeLessThan(3);
    const garbage = file(
      'garbage.gz',
      Buffer.concat([Buffer.from([0x1f, 0x8b]), Buffer.from('definitely not deflate data')]),
    );
    await expect(collect(garbage)).rejects.toThrow(/cannot read dump after line 0: gzip data is corrupt or truncated/);
  });

  it('says so when the file does not exist or is empty', async () => {
    await expect(collect(join(dir, 'missing.ndjson'))).rejects.toThrow(/cannot read dump '.*missing\.ndjson': ENOENT/);
    await expect(collect(file('empty.ndjson', ''))).rejects.toThrow(/is empty \(no line with a record\)/);
  });

  it('reads the committed demo dump: ~40 users, ~60 connections, a few bad records', async () => {
    const entries = await collect(join(__dirname, '../../../samples/demo-dump.ndjson'));
    const ok = entries.filter((e) => e.result.ok);
    const connections = ok.reduce((n, e) => n + (e.result.ok ? e.result.user.connections.length : 0), 0);
    // 40 users, and 2 read without the one bad row each holds (one bad row costs one row)
    expect(ok).toHaveLength(42);
    expect(ok.reduce((n, e) => n + (e.result.ok ? e.result.user.stats.badRows.length : 0), 0)).toBe(2);
    expect(connections).toBeGreaterThanOrEqual(50);
    expect(new Set(ok.map((e) => e.result.ok && e.result.format)).size).toBe(6);
    expect(entries.length - ok.length).toBeGreaterThanOrEqual(1);
  });
});

describe('RejectsWriter', () => {
  it('writes one NDJSON row per reject and closes idempotently', async () => {
    const path = join(dir, 'rejects.ndjson');
    const w = new RejectsWriter(path);
    await w.write({ line: 5, reason: 'invalid JSON: Unexpected token' });
    await w.write({
      line: 9,
      sourceId: 'bad-user-000002',
      reason: "items[0].transactions[0].amount: 'abc' is not a decimal",
    });
    await w.close();
    await w.close();
    expect(w.count).toBe(2);
    expect(
      readFileSync(path, 'utf8')
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l)),
    ).toEqual([
      { line: 5, reason: 'invalid JSON: Unexpected token' },
      { line: 9, sourceId: 'bad-user-000002', reason: "items[0].transactions[0].amount: 'abc' is not a decimal" },
    ]);
    await expect(w.write({ line: 1, reason: 'x' })).rejects.toThrow('closed');
  });
});
