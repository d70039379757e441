import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

const ROOT = path.resolve(__dirname, '../../..');

const alive = (pid: number): boolean => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

it('a suite that timed out leaves none of its processes running', () => {
  const pidsFile = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'mk-leak-')), 'pids.json');
  const fixture = path.join(ROOT, 'packages/testkit/test/fixtures/leaky-suite.ts');
  const run = spawnSync(
    process.execPath,
    [
      require.resolve('jest/bin/jest'),
      '--ci',
      '--testMatch',
      '**/fixtures/leaky-suite.ts',
      '--runTestsByPath',
      fixture,
    ],
    {
      cwd: ROOT,
      env: { ...process.env, MK_LEAK_PIDS: pidsFile },
      encoding: 'utf8',
    },
  );
  expect(run.status).not.toBe(0); // the fixture's test timed out
  const pids: number[] = JSON.parse(fs.readFileSync(pidsFile, 'utf8'));
  expect(pids.length).toBe(2); // a busy loop and a redis-server
  expect(pids.filter(alive)).toEqual([]);
}, 120_000);
