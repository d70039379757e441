import { createHash } from 'crypto';
import { MAX_REQUEST_BYTES } from '@mk/shared';
import { fixtures, RecordError } from '../src';
import { convertText } from './helpers';

const digest = (opts: fixtures.DumpOptions): string => {
  const h = createHash('sha256');
  for (const l of fixtures.dumpLines(opts)) h.update(l.line + '\n');
  return h.digest('hex');
};

describe('dump generator', () => {
  it('is deterministic for a seed and differs across seeds', () => {
    const opts: fixtures.DumpOptions = { users: 60, format: 'mixed', seed: 42, txPerAccount: 10, badShare: 0.1 };
    expect(digest(opts)).toBe(digest(opts));
    expect(digest({ ...opts, seed: 43 })).not.toBe(digest(opts));
  });

  it.each(['plaid', 'mx', 'yodlee', 'finicity', 'akoya', 'canonical'] as const)(
    'every generated %s user converts to valid import requests',
    (format) => {
      let users = 0;
      for (const l of fixtures.dumpLines({ users: 25, format, seed: format, txPerAccount: 15 })) {
        if (l.kind !== 'user') continue;
        const u = convertText(l.line);
        expect(u.format).toBe(format);
        expect(u.sourceUserId).toBe(l.userId);
        users++;
      }
      expect(users).toBe(25);
    },
  );

  it('converts the same neutral user to the same money whatever the source format', () => {
    const user = fixtures.generateUser(fixtures.createRng(9), 3, { txPerAccount: 30 });
    const totals = (['plaid', 'mx', 'yodlee', 'finicity', 'akoya'] as const).map((format) => {
      const u = convertText(JSON.stringify(fixtures.renderUser(format, user, 3)));
      const cents = u.connections
        .flatMap((c) => c.request.transactions)
        .reduce((sum, t) => sum + Math.round(Number(t.amount) * 10000), 0);
      return [u.connections.length, u.stats.transactions, u.stats.pendingSkipped, cents];
    });
    for (const t of totals) expect(t).toEqual(totals[0]);
  });

  it('heavy users exceed the 1 MB request limit (≥ 5,000 transactions)', () => {
    const heavy = [...fixtures.dumpLines({ users: 4, format: 'plaid', seed: 1, heavyShare: 1 })][0]!;
    expect(heavy.kind === 'user' && heavy.heavy).toBe(true);
    const u = convertText(heavy.line);
    expect(u.stats.transactions).toBeGreaterThanOrEqual(5000);
    const biggest = Math.max(...u.connections.map((c) => Buffer.byteLength(JSON.stringify(c.request))));
    expect(biggest).toBeGreaterThan(MAX_REQUEST_BYTES);
  });

  it.each(fixtures.BAD_KINDS)('malformed kind %s is rejected under --strict', (kind) => {
    expect(() => convertText(fixtures.badLine(kind, 1), { onBadRow: 'reject' })).toThrow();
    try {
      convertText(fixtures.badLine(kind, 1), { onBadRow: 'reject' });
    } catch (e) {
      // JSON-level problems surface as JsonInputError, the rest as RecordError
      if (!['invalid_json', 'nesting_bomb'].includes(kind)) expect(e).toBeInstanceOf(RecordError);
    }
  });
});
