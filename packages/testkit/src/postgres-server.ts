/**
 * A private PostgreSQL server for tests: `initdb` in a temp dir, `postgres` on a free port of 127.0.0.1, trust auth
 * for its one superuser. Run as an unprivileged user (`nobody`, through runuser) when the tests run as root,
 * since PostgreSQL refuses to run as root. Ours alone: stopped and its directory removed by `stop()`.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Client } from 'pg';
import { freePort } from './ports';

export interface PrivatePostgres {
  /** postgres://postgres@127.0.0.1:<port>/postgres */
  url: string;
  port: number;
  stop(): Promise<void>;
}

const UNPRIVILEGED_USER = 'nobody';

/** Where Debian's (or any) PostgreSQL server binaries are: the PATH, `pg_config --bindir`, /usr/lib/postgresql/<ver>/bin. */
export function postgresBinDir(): string | undefined {
  const candidates: string[] = [];
  const onPath = spawnSync('sh', ['-c', 'command -v initdb'], { encoding: 'utf8' }).stdout.trim();
  if (onPath) candidates.push(path.dirname(fs.realpathSync(onPath)));
  const bindir = spawnSync('sh', ['-c', 'pg_config --bindir 2>/dev/null'], { encoding: 'utf8' }).stdout.trim();
  if (bindir) candidates.push(bindir);
  const debian = '/usr/lib/postgresql';
  if (fs.existsSync(debian)) {
    for (const v of fs.readdirSync(debian).sort((a, b) => Number(b) - Number(a)))
      candidates.push(path.join(debian, v, 'bin'));
  }
  return candidates.find((d) => fs.existsSync(path.join(d, 'initdb')) && fs.existsSync(path.join(d, 'postgres')));
}

/**
 * Tests that need PostgreSQL: skipped only when no server binary is installed and CI is not set (in CI a missing
 * PostgreSQL is a failure: `.ci/run` installs it through scripts/bootstrap.mjs).
 */
export function postgresAvailable(): boolean {
  if (postgresBinDir()) return true;
  if (process.env.CI)
    throw new Error("PostgreSQL server binaries not found (initdb, postgres): install Debian's postgresql package");
  return false;
}

function asUnprivileged(binary: string, args: string[]): [string, string[]] {
  return process.getuid?.() === 0 ? ['runuser', ['-u', UNPRIVILEGED_USER, '--', binary, ...args]] : [binary, args];
}

async function waitForServer(url: string, child: ChildProcess, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`postgres exited with code ${child.exitCode}`);
    const client = new Client({ connectionString: url });
    try {
      await client.connect();
      await client.query('select 1');
      return;
    } catch {
      /* starting */
    } finally {
      await client.end().catch(() => undefined);
    }
    if (Date.now() > deadline) throw new Error(`postgres did not answer on ${url} within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

export async function startPrivatePostgres(opts: { timeoutMs?: number } = {}): Promise<PrivatePostgres> {
  const bin = postgresBinDir();
  if (!bin) throw new Error('PostgreSQL server binaries not found (initdb, postgres): apt-get install -y postgresql');
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'mk-pg-'));
  fs.chmodSync(root, 0o777); // the unprivileged user writes its data and socket here
  const data = path.join(root, 'data');
  const [initCmd, initArgs] = asUnprivileged(path.join(bin, 'initdb'), [
    '-D',
    data,
    '-U',
    'postgres',
    '--auth=trust',
    '-E',
    'UTF8',
    '--locale=C',
    '--no-sync',
  ]);
  const init = spawnSync(initCmd, initArgs, { encoding: 'utf8' });
  if (init.status !== 0) throw new Error(`initdb failed: ${init.stderr || init.stdout}`);
  const port = await freePort();
  const [cmd, args] = asUnprivileged(path.join(bin, 'postgres'), [
    '-D',
    data,
    '-p',
    String(port),
    '-k',
    root,
    '-c',
    'listen_addresses=127.0.0.1',
    '-c',
    'fsync=off',
    '-c',
    'synchronous_commit=off',
    '-c',
    'full_page_writes=off',
  ]);
  const child = spawn(cmd, args, { stdio: 'ignore' });
  const url = `postgres://postgres@127.0.0.1:${port}/postgres`;
  const stopOnExit = () => {
    try {
      process.kill(Number(fs.readFileSync(path.join(data, 'postmaster.pid'), 'utf8').split('\n')[0]), 'SIGKILL');
    } catch {
      child.kill('SIGKILL');
    }
  };
  process.once('exit', stopOnExit);
  await waitForServer(url, child, opts.timeoutMs);
  return {
    url,
    port,
    async stop() {
      process.off('exit', stopOnExit);
      if (child.exitCode === null && child.signalCode === null) {
        const exited = new Promise((r) => child.once('exit', r));
        // Fast shutdown, sent to the postmaster itself: runuser does not pass SIGINT on.
        const pid = Number(fs.readFileSync(path.join(data, 'postmaster.pid'), 'utf8').split('\n')[0]);
        if (Number.isInteger(pid) && pid > 0) process.kill(pid, 'SIGINT');
        else child.kill('SIGINT');
        const late = setTimeout(() => (pid > 0 ? process.kill(pid, 'SIGKILL') : child.kill('SIGKILL')), 10_000);
        await exited;
        clearTimeout(late);
      }
      fs.rmSync(root, { recursive: true, force: true });
    },
  };
}
