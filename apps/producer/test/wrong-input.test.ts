/** Wrong input, clear answer: what was expected, what was found, a non-zero exit, and nothing read as users. */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import { gzipSync } from 'node:zlib';
import { fixtures } from '@mk/converters';
import { main } from '../src/cli';
import { EXIT } from '../src/exit-codes';
import { readDump } from '../src/dump';

let dir: string;
beforeAll(() => (dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mk-wrong-'))));
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

const user = (n: number) =>
  JSON.stringify(fixtures.renderUser('plaid', fixtures.generateUser(fixtures.createRng(n), n, { txPerAccount: 2 }), n));
const write = (name: string, content: string | Buffer) => {
  const p = path.join(dir, name);
  fs.writeFileSync(p, content);
  return p;
};

async function planOf(file: string): Promise<{ code: number; err: string; out: string }> {
  const err: string[] = [];
  const out: string[] = [];
  const code = await main(
    ['plan', file],
    { LOG_LEVEL: 'silent' },
    { out: (s) => out.push(s), err: (s) => err.push(s) },
  );
  return { code, err: err.join('\n'), out: out.join('\n') };
}

describe('wrong input', () => {
  it.each([
    [
      'CSV',
      'users.csv',
      'user_id,email,phone\nu-1,jane@example.com,+14155550100\n',
      /looks like CSV \(its first line has 3 comma-separated fields, no JSON object\), expected NDJSON/,
    ],
    [
      'a pretty-printed JSON array',
      'users.json',
      JSON.stringify([JSON.parse(user(1)), JSON.parse(user(2))], null, 2),
      /is a JSON array, expected NDJSON: one JSON object per line/,
    ],
    [
      'a one-line JSON array',
      'users-1.json',
      JSON.stringify([JSON.parse(user(1)), JSON.parse(user(2))]),
      /is a JSON array/,
    ],
    [
      'one pretty-printed document',
      'user.json',
      JSON.stringify(JSON.parse(user(1)), null, 2),
      /holds one JSON document over several lines/,
    ],
    ['an empty file', 'empty.ndjson', '', /is empty \(no line with a record\), expected NDJSON/],
    ['a file of blank lines', 'blank.ndjson', '\n  \n\t\n', /is empty/],
    ['an empty gzip', 'empty.ndjson.gz', gzipSync(''), /is empty/],
  ])('%s: plan exits 1 saying what it expected and found', async (_label, name, content, message) => {
    const { code, err, out } = await planOf(write(name, content));
    expect(code).toBe(EXIT.error);
    expect(err).toMatch(message);
    expect(err).not.toContain('jane');
    expect(out).toBe('');
  });

  it('a folder without --layout responses says so', async () => {
    const folder = path.join(dir, 'responses');
    fs.mkdirSync(folder);
    const { code, err } = await planOf(folder);
    expect(code).toBe(EXIT.error);
    expect(err).toMatch(
      /is a folder, expected an NDJSON dump file; for a folder of saved API responses add --layout responses/,
    );
  });

  it('empty stdin is an error too', async () => {
    const read = async () => {
      for await (const _ of readDump(Readable.from([]))) void _;
    };
    await expect(read()).rejects.toThrow(/the input stream is empty/);
  });

  it('a real dump whose first or only line is bad is still read line by line', async () => {
    const entries = [];
    for await (const e of readDump(write('ok.ndjson', ['[1,2]', user(1), 'a,b'].join('\n')))) entries.push(e);
    expect(entries.map((e) => e.result.ok)).toEqual([false, true, false]);
    const single = [];
    for await (const e of readDump(write('one.ndjson', user(1) + '\n'))) single.push(e);
    expect(single).toHaveLength(1);
  });
});
