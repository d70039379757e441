/** App processes for multi-process tests: started with tsx, killed with any signal, their output kept. */
import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { tracked } from './children';
import { TEST_PAYLOAD_KEYS } from './payload-keys';

export interface AppProcess {
  child: ChildProcess;
  output(): string;
  kill(signal?: NodeJS.Signals): Promise<number | null>;
  exited: Promise<number | null>;
}

const ROOT = path.resolve(__dirname, '../../..');

/** Runs `entry` (a path from the repository root, e.g. apps/worker/src/main.ts) with `env` added to ours. */
export function startApp(entry: string, env: Record<string, string>, args: string[] = []): AppProcess {
  const child = tracked(
    spawn(process.execPath, ['--import', 'tsx', path.join(ROOT, entry), ...args], {
      cwd: ROOT,
      env: { ...process.env, NODE_ENV: 'test', LOG_LEVEL: 'warn', PAYLOAD_KEYS: TEST_PAYLOAD_KEYS, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    }),
  );
  let output = '';
  child.stdout!.on('data', (d) => (output += d));
  child.stderr!.on('data', (d) => (output += d));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  return {
    child,
    output: () => output,
    exited,
    async kill(signal = 'SIGTERM') {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
      return exited;
    },
  };
}
