/**
 * Every process a test starts (apps, redis-server, busy loops), so none outlives its suite. When a test times out jest
 * runs the suite's hooks but never the rest of its code: its processes would keep running into the next suite and
 * slow it down. The jest environment (packages/testkit/jest-environment.js) kills what is still alive at teardown.
 */
import type { ChildProcess } from 'node:child_process';

const LIVE = '__mkLiveChildren';

function liveSet(): Set<number> {
  const g = globalThis as unknown as Record<string, Set<number> | undefined>;
  return (g[LIVE] ??= new Set<number>());
}

export function tracked<T extends ChildProcess>(child: T): T {
  const pid = child.pid;
  if (pid === undefined) return child;
  liveSet().add(pid);
  child.once('exit', () => liveSet().delete(pid));
  return child;
}
