#!/usr/bin/env node
// Runs the whole jest suite and ends with the totals on a line of their own: "N passed, N failed".
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

// Type errors count as a failure but do not hide the test totals.
const typecheck = spawnSync('pnpm', ['exec', 'turbo', 'run', 'typecheck', '--output-logs=errors-only'], {
  stdio: 'inherit',
  env: { ...process.env, TURBO_TELEMETRY_DISABLED: '1', DO_NOT_TRACK: '1' },
});

const out = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'mk-jest-')), 'results.json');
const jest = spawnSync('pnpm', ['exec', 'jest', '--json', `--outputFile=${out}`, ...process.argv.slice(2)], { stdio: 'inherit' });
let passed = 0;
let failed = 0;
let skipped = 0;
try {
  const results = JSON.parse(fs.readFileSync(out, 'utf8'));
  passed = results.numPassedTests;
  failed = results.numFailedTests;
  skipped = results.numPendingTests + (results.numTodoTests ?? 0);
  // A suite that fails to load has no tests counted: count it as a failure.
  failed += results.testResults.filter((s) => s.status === 'failed' && s.assertionResults.length === 0).length;
} catch {
  failed += 1;
}
if (typecheck.status !== 0) {
  console.error('typecheck failed');
  failed += 1;
}
console.log(`\n${passed} passed, ${failed} failed${skipped ? `, ${skipped} skipped` : ''}`);
process.exit(jest.status === 0 && typecheck.status === 0 && failed === 0 ? 0 : 1);
