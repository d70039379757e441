#!/usr/bin/env node
// Runs the type checks, the linter and the whole jest suite, and ends with the totals on a line of their own:
// "N passed, N failed". Suites named *.serial.test.ts start several processes each (workers, producer, chaos);
// they run one at a time after the others so they never starve each other on small machines. Then the suites
// whose guarantees must hold on a saturated machine (the quota soak, the chaos short form) run once more with
// MK_TEST_CPU_LOAD=1: each keeps every core busy with other processes while it runs.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

const SERIAL = '\\.serial\\.test\\.ts$';
const UNDER_LOAD = '(refresh-quota|chaos)\\.serial\\.test\\.ts$';
const extra = process.argv.slice(2);
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'mk-jest-'));

// Type errors count as a failure but do not hide the test totals. One program over the whole tree (tsconfig.json):
// the packages' paths point at each other's sources, so checking them one by one re-checks the shared code each time.
const typecheck = spawnSync('pnpm', ['typecheck'], { stdio: 'inherit' });

// Lint errors (eslint.config.mjs: floating promises, non-exhaustive switches, an app importing another app) count
// as one failure, like type errors.
const lint = spawnSync('pnpm', ['lint'], { stdio: 'inherit' });

function jest(name, args, env = {}) {
  const out = path.join(tmp, `${name}.json`);
  const run = spawnSync(
    'pnpm',
    ['exec', 'jest', '--json', '--passWithNoTests', `--outputFile=${out}`, ...args, ...extra],
    { stdio: 'inherit', env: { ...process.env, ...env } },
  );
  const totals = { passed: 0, failed: 0, skipped: 0, ok: run.status === 0 };
  try {
    const results = JSON.parse(fs.readFileSync(out, 'utf8'));
    totals.passed = results.numPassedTests;
    totals.failed = results.numFailedTests;
    totals.skipped = results.numPendingTests + (results.numTodoTests ?? 0);
    // A suite that fails to load has no tests counted: count it as a failure.
    totals.failed += results.testResults.filter((s) => s.status === 'failed' && s.assertionResults.length === 0).length;
  } catch {
    totals.failed += 1;
  }
  return totals;
}

const parallel = jest('parallel', ['--testPathIgnorePatterns', SERIAL]);
const serial = jest('serial', ['--runInBand', '--testPathPattern', SERIAL]);
const loaded = jest('loaded', ['--runInBand', '--testPathPattern', UNDER_LOAD], { MK_TEST_CPU_LOAD: '1' });
const passes = [parallel, serial, loaded];
const passed = passes.reduce((n, p) => n + p.passed, 0);
let failed = passes.reduce((n, p) => n + p.failed, 0);
const skipped = passes.reduce((n, p) => n + p.skipped, 0);
if (typecheck.status !== 0) {
  console.error('typecheck failed');
  failed += 1;
}
if (lint.status !== 0) {
  console.error('lint failed');
  failed += 1;
}
console.log(`\n${passed} passed, ${failed} failed${skipped ? `, ${skipped} skipped` : ''}`);
process.exit(passes.every((p) => p.ok) && typecheck.status === 0 && lint.status === 0 && failed === 0 ? 0 : 1);
