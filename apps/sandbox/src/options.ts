/**
 * Everything a sandbox can be told at start. Defaults are MoneyKit's documented behaviour; tests and
 * rehearsals override latency, time scale and quotas to run "hours" in milliseconds.
 */
import {
  DEFAULT_REFRESH_QUOTAS,
  MONEYKIT_READ_LIMITS,
  type Logger,
  type Product,
  type RefreshQuotaTable,
} from '@mk/shared';
import type { FaultSettings } from './faults/faults';

/** Import processing time: `baseMs + perKbMs × body KB`, capped at `maxMs`. */
export interface LatencyModel {
  baseMs: number;
  perKbMs: number;
  maxMs: number;
}

/** "Processed synchronously, up to ~10 s" for a 1 MB body: ~200 ms plus ~9.8 ms per KB. */
export const REALISTIC_LATENCY: LatencyModel = { baseMs: 200, perKbMs: 9.8, maxMs: 10_000 };
export const NO_LATENCY: LatencyModel = { baseMs: 0, perKbMs: 0, maxMs: 0 };

export interface SandboxOptions {
  /** 0 = any free port. */
  port: number;
  host: string;
  clientId: string;
  clientSecret: string;
  /** Lifetime of bearer tokens (MoneyKit: 3600 s). */
  tokenTtlSeconds: number;
  /** POST /auth/token calls per minute per client (MoneyKit: 300). */
  tokenRatePerMinute: number;
  /** App-wide limit on import + import-transactions calls per wall-clock minute (MoneyKit: 60). Never scaled. */
  importRatePerMinute: number;
  latency: LatencyModel | 'realistic' | 'none';
  /** MoneyKit's read limits per wall-clock minute (on by default, as MoneyKit has them; tests that poll raise them). */
  readLimits: ReadLimits;
  /** Divides refresh quota windows and webhook retry delays. The service under test must use the same scale. */
  timeScale: number;
  /** Minimum seconds between two accepted refreshes of one product on one link. */
  quotas: RefreshQuotaTable;
  /** Products every imported link is granted (the end user's consent at link time). */
  grantedProducts: Product[];
  /** Where webhooks go; unset = none are sent (a link's own `webhook`, set by PATCH, wins). */
  webhookUrl?: string;
  /** Delay before each redelivery of a failed webhook (divided by timeScale). */
  webhookRetryDelaysMs: number[];
  /** Time between a 202 refresh and its completion (`refreshed_at`, `completed` webhook). */
  refreshCompletionDelayMs: number;
  /** Seed of the fault RNG: the same seed gives the same faults for the same call sequence. */
  seed?: number;
  /** Faults active from the start (same shape as PUT /_sandbox/faults). */
  faults?: Partial<FaultSettings>;
  /** Keep what happened to each link (calls, answers, webhook deliveries) for `state.history(linkId)`: tests' diagnostics. */
  linkHistory?: boolean;
  /** Log level of the sandbox logger; default 'warn' under NODE_ENV=test, else LOG_LEVEL or 'info'. */
  logLevel?: string;
  logger?: Logger;
}

export interface ReadLimits {
  /** GET /links/{id}/accounts per link (MoneyKit: 4). */
  accountsPerLinkPerMin: number;
  /** GET /links/{id} per link (15) and per app (1,000). */
  linkPerLinkPerMin: number;
  linkPerAppPerMin: number;
}

/** The read limits times `scale` (SANDBOX_READ_LIMIT_SCALE): one knob for rehearsals and tests that poll. */
export const readLimitsScaled = (scale: number): ReadLimits => ({
  accountsPerLinkPerMin: MONEYKIT_READ_LIMITS.accountsPerLinkPerMin * scale,
  linkPerLinkPerMin: MONEYKIT_READ_LIMITS.linkPerLinkPerMin * scale,
  linkPerAppPerMin: MONEYKIT_READ_LIMITS.linkPerAppPerMin * scale,
});

export const DEFAULT_GRANTED_PRODUCTS: Product[] = ['accounts', 'transactions', 'identity', 'account_numbers'];

export const DEFAULT_OPTIONS: SandboxOptions = {
  port: 0,
  host: '127.0.0.1',
  clientId: 'sandbox-client-id',
  clientSecret: 'sandbox-client-secret',
  tokenTtlSeconds: 3600,
  tokenRatePerMinute: 300,
  importRatePerMinute: 60,
  latency: 'realistic',
  readLimits: readLimitsScaled(1),
  timeScale: 1,
  quotas: DEFAULT_REFRESH_QUOTAS,
  grantedProducts: DEFAULT_GRANTED_PRODUCTS,
  webhookRetryDelaysMs: [1_000, 5_000, 30_000, 120_000],
  refreshCompletionDelayMs: 250,
};

export interface ResolvedOptions extends Omit<SandboxOptions, 'latency'> {
  latency: LatencyModel;
}

export function resolveOptions(opts: Partial<SandboxOptions>): ResolvedOptions {
  const defined = Object.fromEntries(
    Object.entries(opts).filter(([, v]) => v !== undefined),
  ) as Partial<SandboxOptions>;
  const merged = {
    ...DEFAULT_OPTIONS,
    ...defined,
    quotas: { ...DEFAULT_REFRESH_QUOTAS, ...defined.quotas },
    readLimits: { ...DEFAULT_OPTIONS.readLimits, ...defined.readLimits },
  };
  if (!(merged.timeScale > 0)) throw new Error(`timeScale must be > 0, got ${merged.timeScale}`);
  if (!(merged.importRatePerMinute > 0))
    throw new Error(`importRatePerMinute must be > 0, got ${merged.importRatePerMinute}`);
  const latency =
    merged.latency === 'realistic' ? REALISTIC_LATENCY : merged.latency === 'none' ? NO_LATENCY : merged.latency;
  return { ...merged, latency };
}

/** How long an import body of `bytes` takes to "process". */
export function importLatencyMs(model: LatencyModel, bytes: number): number {
  return Math.min(model.maxMs, model.baseMs + (model.perKbMs * bytes) / 1000);
}
