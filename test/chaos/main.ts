#!/usr/bin/env node
/**
 * `pnpm chaos` (short form, a few minutes) or `pnpm chaos --long` (20,000 users, 10 minutes of refresh chaos).
 * Options: --users N --workers N --rate N (imports/min) --refresh-seconds N --kill-every N --seed N --cpu-load
 * --topup-new-users N --topup-change-every N
 */
import { parseArgs } from 'node:util';
import { exitOnHelp } from '@mk/shared';
import { LONG, SHORT, formatResult, runChaos, verdict } from './chaos';

exitOnHelp(`usage: pnpm chaos [--long] [--cpu-load] [options]

Migrates under fire (workers SIGKILLed, Redis killed, wiped and restarted, producer re-run, injected faults), tops
up from a newer dump under the same fire, runs a refresh period, then checks every guarantee; exits 0 when all hold.
  --long               20,000 users and ten minutes of refresh chaos
  --cpu-load           every core kept busy by other processes meanwhile
  --users N  --workers N  --rate N (imports/min)  --refresh-seconds N  --kill-every N (s)  --seed N
  --topup-new-users N  users only in the top-up's newer dump; --topup-change-every N  every N-th user changed in it`);

const { values } = parseArgs({
  options: {
    long: { type: 'boolean', default: false },
    'cpu-load': { type: 'boolean', default: false },
    users: { type: 'string' },
    workers: { type: 'string' },
    rate: { type: 'string' },
    'refresh-seconds': { type: 'string' },
    'kill-every': { type: 'string' },
    'topup-new-users': { type: 'string' },
    'topup-change-every': { type: 'string' },
    seed: { type: 'string' },
  },
});
const base = values.long ? LONG : SHORT;
const num = (v: string | undefined, fallback: number) => (v === undefined ? fallback : Number(v));
const opts = {
  users: num(values.users, base.users),
  workers: num(values.workers, base.workers),
  importRatePerMinute: num(values.rate, base.importRatePerMinute),
  refreshSeconds: num(values['refresh-seconds'], base.refreshSeconds),
  killEverySeconds: num(values['kill-every'], base.killEverySeconds),
  topupNewUsers: num(values['topup-new-users'], base.topupNewUsers),
  topupChangeEvery: num(values['topup-change-every'], base.topupChangeEvery),
  seed: num(values.seed, base.seed),
  cpuLoad: values['cpu-load'] ?? false,
  log: (line: string) => process.stderr.write(`chaos: ${line}\n`),
};

runChaos(opts).then(
  (result) => {
    process.stdout.write(`${formatResult(result)}\n`);
    const problems = verdict(result);
    process.stdout.write(
      problems.length ? `FAILED: ${problems.join('; ')}\n` : 'OK: 0 duplicates, 0 lost, 0 quota violations, 0 stuck\n',
    );
    process.exit(problems.length ? 1 : 0);
  },
  (err) => {
    process.stderr.write(`chaos run failed: ${(err as Error).stack}\n`);
    process.exit(1);
  },
);
