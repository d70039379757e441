/** Every script and app answers --help with its usage and exit 0, before it starts anything. */
import { startApp } from '@mk/testkit';

const ENTRIES: [string, string][] = [
  ['generate-dump', 'scripts/generate-dump.ts'],
  ['demo', 'scripts/demo.ts'],
  ['bench', 'bench/run.ts'],
  ['chaos', 'test/chaos/main.ts'],
  ['sandbox', 'apps/sandbox/src/main.ts'],
  ['worker', 'apps/worker/src/main.ts'],
  ['dashboard', 'apps/dashboard/src/main.ts'],
  ['mk-migrate', 'apps/producer/src/main.ts'],
];

describe('--help', () => {
  it.each(ENTRIES)(
    '%s prints its usage and exits 0',
    async (_name, entry) => {
      // No REDIS_URL, no port: help must not need them.
      const app = startApp(entry, { REDIS_URL: '', LOG_LEVEL: 'silent' }, ['--help']);
      expect(await app.exited).toBe(0);
      expect(app.output()).toMatch(/usage:|Usage:/);
    },
    120_000,
  );
});
