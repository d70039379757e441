/**
 * A saturated machine for the suites that must hold under load, and the measured slowdown their deadlines stretch by.
 *
 * `startCpuLoad()` starts one busy-looping child per core (the way another tenant of a small CI machine would) and
 * stops them on `stop()`. `MK_TEST_CPU_LOAD=1` is how the test runner asks a suite for its loaded run.
 * `measureSlowdown()` tells how much slower this process runs right now than it would alone: it spins for a while
 * and compares the wall time with the CPU time it actually got (1 on an idle core; 3 when it gets a third of one).
 * A deadline in a test is multiplied by it; a guarantee (no duplicate, no quota violation, nothing lost) never is.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import os from 'node:os';
import { tracked } from './children';

export interface CpuLoad {
  readonly children: number;
  stop(): Promise<void>;
}

// Spins, and ends itself once orphaned (a ppid check every few million turns): a suite that timed out never runs
// stop(), and a loop left behind would slow every later suite down. The parent's pid comes as an argument: under load
// the child may start after its parent is gone.
const BUSY_LOOP =
  'const parent = Number(process.argv[1]); for (let i = 0; ; i++) if (i % 5e6 === 0 && process.ppid !== parent) process.exit(0);';

export const loadRequested = (env: NodeJS.ProcessEnv = process.env): boolean => env.MK_TEST_CPU_LOAD === '1';

export function startCpuLoad(cores = os.availableParallelism()): CpuLoad {
  const children: ChildProcess[] = [];
  for (let i = 0; i < cores; i++) {
    children.push(tracked(spawn(process.execPath, ['-e', BUSY_LOOP, String(process.pid)], { stdio: 'ignore' })));
  }
  return {
    children: children.length,
    async stop() {
      await Promise.all(
        children.map(
          (c) =>
            new Promise<void>((resolve) => {
              if (c.exitCode !== null || c.signalCode !== null) return resolve();
              c.once('exit', () => resolve());
              c.kill('SIGKILL');
            }),
        ),
      );
    },
  };
}

/** Wall time over CPU time of a short spin in this process (≥ 1). */
export function measureSlowdown(spinMs = 200): number {
  const cpu0 = process.cpuUsage();
  const wall0 = performance.now();
  // spin in slices so the scheduler's share of the core shows, not one lucky slice
  while (performance.now() - wall0 < spinMs) {
    for (let i = 0; i < 1e5; i++) Math.sqrt(i);
  }
  const wall = performance.now() - wall0;
  const cpu = process.cpuUsage(cpu0);
  const cpuMs = (cpu.user + cpu.system) / 1000;
  return Math.max(1, wall / Math.max(1, cpuMs));
}

/**
 * Samples the slowdown every `everyMs` while a suite runs (a busy spin of `spinMs` each time, so keep it rare) and
 * keeps the worst: the factor a deadline of that suite may stretch by.
 */
export function trackSlowdown(
  everyMs = 5000,
  spinMs = 100,
): { readonly worst: number; readonly samples: number[]; stop(): void } {
  const samples: number[] = [measureSlowdown(spinMs)];
  const timer = setInterval(() => samples.push(measureSlowdown(spinMs)), everyMs);
  timer.unref();
  return {
    get worst() {
      return Math.max(...samples);
    },
    samples,
    stop: () => clearInterval(timer),
  };
}
