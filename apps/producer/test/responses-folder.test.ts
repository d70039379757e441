/** `--layout responses <dir>`: saved API responses, read as the aggregators returned them. */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { main } from '../src/cli';
import { EXIT } from '../src/exit-codes';
import { readDump, type DumpEntry } from '../src/dump';
import { writeSavedResponses } from './support/saved-responses';

let dir: string;
beforeAll(() => (dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mk-responses-'))));
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

async function collect(root: string, startAfterLine = 0): Promise<DumpEntry[]> {
  const out: DumpEntry[] = [];
  for await (const e of readDump(root, { layout: 'responses', startAfterLine })) out.push(e);
  return out;
}

describe('--layout responses', () => {
  it('reads every source user, pages in order, sync pages applied in cursor order, signs by the source rules', async () => {
    const root = path.join(dir, 'ok');
    const expected = writeSavedResponses(root, 2);
    const entries = await collect(root);
    expect(entries.map((e) => e.line)).toEqual(entries.map((_, i) => i + 1));
    const problems = entries.filter((e) => !e.result.ok).map((e) => (e.result.ok ? '' : e.result.reason));
    expect(problems).toEqual([]);
    const got = entries.flatMap((e) =>
      e.result.ok
        ? e.result.user.connections.map((c) => ({
            sourceUserId: e.result.ok ? e.result.user.sourceUserId : '',
            connectionId: c.connectionId,
            transactions: c.request.transactions.map((t) => ({ id: t.transaction_id, amount: t.amount, date: t.date })),
          }))
        : [],
    );
    expect(new Set(got.map((g) => g.connectionId))).toEqual(new Set(expected.map((x) => x.connectionId)));
    for (const x of expected) expect(got.find((g) => g.connectionId === x.connectionId)).toEqual(x);
  });

  it('takes masks from /auth/get, contact details from /identity/get and GET /user', async () => {
    const root = path.join(dir, 'contacts');
    writeSavedResponses(root, 1);
    const entries = await collect(root);
    const plaid = entries.find((e) => e.result.ok && e.result.format === 'plaid')!;
    if (!plaid.result.ok) throw new Error('plaid user rejected');
    const request = plaid.result.user.connections[0]!.request;
    expect(request.accounts[0]!.mask).toBe('0000');
    expect(request.customer_user).toMatchObject({ id: 'plaid-user-1', email: { address: 'plaid1@example.com' } });
    const fin = entries.find((e) => e.result.ok && e.result.format === 'finicity')!;
    if (!fin.result.ok) throw new Error('finicity user rejected');
    expect(fin.result.user.connections[0]!.request.accounts[0]!.mask).toBe('8377');
  });

  it('resumes after a user: the n-th user folder stands for the n-th line', async () => {
    const root = path.join(dir, 'resume');
    writeSavedResponses(root, 2);
    const all = await collect(root);
    const rest = await collect(root, 4);
    expect(rest.map((e) => e.line)).toEqual(all.slice(4).map((e) => e.line));
  });

  it('rejects one unreadable user folder with the file and reason, and reads the rest', async () => {
    const root = path.join(dir, 'one-bad');
    writeSavedResponses(root, 1);
    fs.writeFileSync(path.join(root, 'mx/mx-user-1/transactions.2.json'), '{"transactions": [');
    fs.writeFileSync(path.join(root, 'yodlee/yodlee-user-1/notes.txt'), 'x');
    const entries = await collect(root);
    const bad = entries.filter((e) => !e.result.ok).map((e) => e.result);
    expect(bad).toEqual([
      {
        ok: false,
        sourceId: 'mx-user-1',
        reason: expect.stringMatching(/^mx\/mx-user-1\/transactions\.2\.json: invalid JSON/),
      },
      {
        ok: false,
        sourceId: 'yodlee-user-1',
        reason: expect.stringMatching(/^yodlee\/yodlee-user-1\/notes\.txt: not an endpoint file/),
      },
    ]);
    expect(entries.filter((e) => e.result.ok)).toHaveLength(3);
  });

  it('a folder of another layout: says what it found, exit 1', async () => {
    const root = path.join(dir, 'flat');
    fs.mkdirSync(root);
    fs.writeFileSync(path.join(root, 'accounts_get.json'), '{}');
    fs.writeFileSync(path.join(root, 'transactions_sync.1.json'), '{}');
    const err: string[] = [];
    const code = await main(
      ['plan', root, '--layout', 'responses'],
      { LOG_LEVEL: 'silent' },
      { out: () => undefined, err: (s) => err.push(s) },
    );
    expect(code).toBe(EXIT.error);
    expect(err.join('\n')).toMatch(
      /is not a folder of saved responses: expected a folder per source \(plaid, yodlee, mx, finicity, akoya\) holding a folder per user; found 2 files: accounts_get\.json, transactions_sync\.1\.json and 0 folders; its files look like one user's plaid responses/,
    );
  });

  it('plan over the folder counts the users', async () => {
    const root = path.join(dir, 'plan');
    writeSavedResponses(root, 2);
    const out: string[] = [];
    const code = await main(
      ['plan', root, '--layout', 'responses', '--json'],
      { LOG_LEVEL: 'silent' },
      { out: (s) => out.push(s), err: () => undefined },
    );
    expect(code).toBe(EXIT.success);
    expect(JSON.parse(out.join(''))).toMatchObject({ users: 10, connections: 10, transactions: 20, rejects: 0 });
  });
});
