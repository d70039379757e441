/**
 * A private redis-server on a free port, for tests, the demo and rehearsals. It is ours alone, so we may
 * flush, restart and kill it; a Redis we did not start is never touched.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import IORedis from 'ioredis';
import { tracked } from './children';
import { freePort } from './ports';

export interface PrivateRedisOptions {
  /** AOF on (appendfsync everysec), as production runs it. Needed for restart tests. */
  aof?: boolean;
  port?: number;
  dir?: string;
}

export interface PrivateRedis {
  url: string;
  port: number;
  dir: string;
  /** SIGKILL then start again on the same port and data dir (AOF replays what was written). */
  restart(): Promise<void>;
  /** SIGKILL, wipe the data dir, start again on the same port: everything it held is gone (no AOF, a lost disk). */
  restartEmpty(): Promise<void>;
  stop(): Promise<void>;
}

export function redisServerBinary(): string {
  const found = spawnSync('sh', ['-c', 'command -v redis-server'], { encoding: 'utf8' }).stdout.trim();
  if (!found)
    throw new Error('redis-server not found on PATH: install it (apt-get install -y redis-server) or set REDIS_URL');
  return found;
}

async function waitForPing(url: string, child: ChildProcess, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`redis-server exited with code ${child.exitCode}`);
    const client = new IORedis(url, {
      lazyConnect: true,
      maxRetriesPerRequest: 0,
      enableOfflineQueue: false,
      retryStrategy: () => null,
    });
    client.on('error', () => undefined);
    try {
      await client.connect();
      // While loading the AOF, Redis answers LOADING: keep waiting.
      if ((await client.ping()) === 'PONG') return;
    } catch {
      /* not up yet */
    } finally {
      client.disconnect();
    }
    if (Date.now() > deadline) throw new Error(`redis-server did not answer on ${url} within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

export async function startPrivateRedis(opts: PrivateRedisOptions = {}): Promise<PrivateRedis> {
  const binary = redisServerBinary();
  const port = opts.port ?? (await freePort());
  const dir = opts.dir ?? fs.mkdtempSync(path.join(os.tmpdir(), 'mk-redis-'));
  const url = `redis://127.0.0.1:${port}`;
  const args = [
    '--port',
    String(port),
    '--bind',
    '127.0.0.1',
    '--dir',
    dir,
    '--save',
    '',
    '--appendonly',
    opts.aof ? 'yes' : 'no',
    '--appendfsync',
    'everysec',
    '--maxmemory-policy',
    'noeviction',
    '--daemonize',
    'no',
    '--protected-mode',
    'yes',
    '--loglevel',
    'warning',
  ];
  let child: ChildProcess;
  const launch = async () => {
    child = tracked(spawn(binary, args, { stdio: 'ignore' }));
    await waitForPing(url, child);
  };
  const kill = async (signal: NodeJS.Signals) => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise((r) => child.once('exit', r));
    child.kill(signal);
    await exited;
  };
  await launch();
  const stopOnExit = () => child.kill('SIGKILL');
  process.once('exit', stopOnExit);
  return {
    url,
    port,
    dir,
    async restart() {
      await kill('SIGKILL');
      await launch();
    },
    async restartEmpty() {
      await kill('SIGKILL');
      for (const entry of fs.readdirSync(dir)) fs.rmSync(path.join(dir, entry), { recursive: true, force: true });
      await launch();
    },
    async stop() {
      process.removeListener('exit', stopOnExit);
      await kill('SIGTERM');
      if (!opts.dir) fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}
