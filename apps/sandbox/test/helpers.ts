/** Plain-fetch helpers for the sandbox's tests (the client package is tested on its own). */
import type { ImportLinkRequest } from '@mk/shared';
import { validateResponse, type ContractCheck } from '@mk/testkit';
import { startSandbox, type RunningSandbox, type SandboxOptions } from '../src';

export interface Res<T = any> {
  status: number;
  headers: Headers;
  body: T;
}

/** Test defaults: no latency, quiet logs, no webhooks. */
export function startTestSandbox(opts: Partial<SandboxOptions> = {}): Promise<RunningSandbox> {
  return startSandbox({ latency: 'none', logLevel: 'warn', refreshCompletionDelayMs: 5, seed: 42, ...opts });
}

export async function call<T = any>(
  sb: RunningSandbox,
  method: string,
  path: string,
  init: { body?: unknown; raw?: string; headers?: Record<string, string>; token?: string | null } = {},
): Promise<Res<T>> {
  const headers: Record<string, string> = { ...init.headers };
  if (init.token) headers.authorization = `Bearer ${init.token}`;
  let body: string | undefined = init.raw;
  if (init.body !== undefined) {
    body = JSON.stringify(init.body);
    headers['content-type'] ??= 'application/json';
  } else if (init.raw !== undefined) headers['content-type'] ??= 'application/json';
  const res = await fetch(`${sb.url}${path}`, { method, headers, body });
  const text = await res.text();
  let parsed: unknown = text;
  try {
    parsed = text ? JSON.parse(text) : undefined;
  } catch {
    /* not JSON */
  }
  return { status: res.status, headers: res.headers, body: parsed as T };
}

export async function getToken(sb: RunningSandbox): Promise<string> {
  const res = await fetch(`${sb.url}/auth/token`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({
      grant_type: 'client_credentials',
      client_id: sb.clientId,
      client_secret: sb.clientSecret,
    }),
  });
  if (res.status !== 201) throw new Error(`token: ${res.status}`);
  return ((await res.json()) as { access_token: string }).access_token;
}

/** An authenticated caller bound to one sandbox. */
export async function apiFor(sb: RunningSandbox) {
  const token = await getToken(sb);
  return {
    token,
    get: <T = any>(path: string) => call<T>(sb, 'GET', path, { token }),
    post: <T = any>(path: string, body?: unknown) => call<T>(sb, 'POST', path, { token, body }),
    postRaw: <T = any>(path: string, raw: string) => call<T>(sb, 'POST', path, { token, raw }),
    patch: <T = any>(path: string, body?: unknown) => call<T>(sb, 'PATCH', path, { token, body }),
    del: <T = any>(path: string) => call<T>(sb, 'DELETE', path, { token }),
    control: <T = any>(method: string, path: string, body?: unknown) =>
      call<T>(sb, method, `/_sandbox${path}`, { body }),
  };
}
export type Api = Awaited<ReturnType<typeof apiFor>>;

let seq = 0;
export function importRequest(overrides: Partial<ImportLinkRequest> = {}, transactions = 2): ImportLinkRequest {
  seq += 1;
  return {
    customer_user: { id: `user-${String(seq).padStart(4, '0')}`, email: { address: 'person@example.com' } },
    provider: 'mx',
    institution_id: 'mx.chase',
    accounts: [
      {
        account_id: 'acct-1',
        name: 'Premier Checking',
        type: 'checking',
        mask: '3748',
        balances: { currency: 'USD', available: 340.12, current: 445.89, balance_date: '2021-08-12T15:23:00Z' },
      },
      {
        account_id: 'acct-2',
        name: 'Card',
        type: 'credit card',
        mask: '9911',
        balances: { currency: 'USD', current: 120, limit: 5000 },
      },
    ],
    transactions: Array.from({ length: transactions }, (_, i) => ({
      account_id: i % 2 === 0 ? 'acct-1' : 'acct-2',
      transaction_id: `txn-${i}`,
      amount: i % 2 === 0 ? '384.05' : '-12.50',
      date: '2022-02-08',
      description: "Regina's Mulberry",
      type: 'food_and_drinks.restaurants',
    })),
    ...overrides,
  };
}

/** The contract check of a response, by path template. */
export function contractOf(method: string, pathTemplate: string, res: Res): ContractCheck {
  return validateResponse(method, pathTemplate, res.status, res.body);
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
