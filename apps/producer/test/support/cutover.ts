/** Two dumps of the same users, days apart: what a cutover tops up from (the newer one via fixtures.newerDumpLine). */
import fs from 'node:fs';
import { fixtures } from '@mk/converters';

export interface CutoverDumps {
  /** Users in the first dump. */
  users: number;
  /** Users only in the newer dump (their connections are new to the run). */
  newUsers: number;
  /** Of the newer dump's rows of first-dump users: new ids, posted since pending, changed under the same id. */
  added: number;
  posted: number;
  changed: number;
}

/**
 * Writes `first` (the first `users` users) and `newer` (them changed, plus `newUsers` more). `heavy` users (by
 * position) get `heavyAdded` new rows each: a top-up of several ≤ 1 MB batches.
 */
export function writeCutoverDumps(
  first: string,
  newer: string,
  opts: { users: number; newUsers: number; seed: number; heavy?: number[]; heavyAdded?: number },
): CutoverDumps {
  const lines = [
    ...fixtures.dumpLines({ users: opts.users + opts.newUsers, format: 'plaid', txPerAccount: 6, seed: opts.seed }),
  ].map((l) => l.line);
  const out: CutoverDumps = { users: opts.users, newUsers: opts.newUsers, added: 0, posted: 0, changed: 0 };
  const newerLines = lines.slice(0, opts.users).map((line, i) => {
    const n = fixtures.newerDumpLine(line, { added: opts.heavy?.includes(i) ? (opts.heavyAdded ?? 6000) : 2 });
    out.added += n.added;
    out.posted += n.posted;
    out.changed += n.changed;
    return n.line;
  });
  fs.writeFileSync(first, lines.slice(0, opts.users).join('\n') + '\n');
  fs.writeFileSync(newer, [...newerLines, ...lines.slice(opts.users)].join('\n') + '\n');
  return out;
}
