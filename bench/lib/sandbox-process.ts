/**
 * The sandbox in its own process, as MoneyKit is in production: its CPU (JSON parsing, latency timers) must not
 * share the event loop of the code being measured.
 */
import { startApp, type AppProcess } from '@mk/testkit';
import { DEFAULT_OPTIONS } from '@mk/sandbox';
import { sleep } from './bench';

export interface SandboxCounters {
  importCalls: number;
  importTransactionsCalls: number;
  rateLimited429s: number;
  duplicateLinks: number;
  duplicateTransactions: number;
  liveLinks: number;
  maxImportCallsPerMinuteSeen: number;
  tokensIssued: number;
}

export interface SandboxProcess {
  url: string;
  clientId: string;
  clientSecret: string;
  counters(): Promise<SandboxCounters>;
  close(): Promise<void>;
}

/** Import calls the sandbox let through (arrivals minus the ones it answered 429). */
export const admittedImportCalls = (c: SandboxCounters) =>
  c.importCalls + c.importTransactionsCalls - c.rateLimited429s;

export async function startSandboxProcess(opts: {
  latency: 'realistic' | 'none';
  importRatePerMinute: number;
}): Promise<SandboxProcess> {
  const app: AppProcess = startApp('apps/sandbox/src/main.ts', {
    NODE_ENV: 'production',
    LOG_LEVEL: 'error',
    SANDBOX_PORT: '0',
    SANDBOX_LATENCY: opts.latency,
    SANDBOX_IMPORT_RATE_PER_MIN: String(opts.importRatePerMinute),
  });
  const deadline = Date.now() + 30_000;
  let url: string | undefined;
  while (!(url = /listening on (http:\/\/\S+)/.exec(app.output())?.[1])) {
    if (app.child.exitCode !== null || Date.now() > deadline) {
      await app.kill('SIGKILL');
      throw new Error(`sandbox did not start:\n${app.output()}`);
    }
    await sleep(50);
  }
  const base = url;
  return {
    url: base,
    clientId: DEFAULT_OPTIONS.clientId,
    clientSecret: DEFAULT_OPTIONS.clientSecret,
    async counters() {
      const res = await fetch(`${base}/_sandbox/counters`);
      if (!res.ok) throw new Error(`GET /_sandbox/counters answered ${res.status}`);
      return (await res.json()) as SandboxCounters;
    },
    async close() {
      await app.kill('SIGTERM');
    },
  };
}
