/**
 * The service's own metrics, one registry per process. Workers call the typed helpers below at the one place
 * where they talk to MoneyKit or settle an import; `/metrics` (see ops-server.ts) exposes the registry.
 */
import { collectDefaultMetrics, Counter, Histogram, Registry } from 'prom-client';
import type { ErrorClass } from '@mk/shared';
import { traceApiCall } from './tracing';
import { ENDPOINTS, type EndpointName } from '@mk/moneykit-client';

/** MoneyKit endpoints we call, as metric label values: the client's one list of names (bounded: never an id or a URL). */
export const API_ENDPOINTS = Object.keys(ENDPOINTS) as EndpointName[];
export type ApiEndpoint = EndpointName;

/** Endpoints whose latency goes to the import histogram. */
const IMPORT_ENDPOINTS: ReadonlySet<ApiEndpoint> = new Set<ApiEndpoint>([
  'import_link',
  'import_transactions',
  'get_user_links',
]);

/** 'ok', an ErrorClass, or 'unclassified' for a throw that never went through the client's classifier (a bug). */
export type ApiOutcome = 'ok' | ErrorClass | 'unclassified';

/** How a source connection ended: a new link, a link adopted from an earlier lost response, or a failure. */
export type ImportOutcome = 'imported' | 'adopted' | 'failed';

/** The one registry of this process. Apps may register their own collectors on it or merge it with theirs. */
export const registry = new Registry();
collectDefaultMetrics({ register: registry });

const importDuration = new Histogram({
  name: 'mk_import_request_duration_seconds',
  help: 'Latency of MoneyKit import-side calls (POST /links/import, /import/transactions, GET /users/{id}/links)',
  labelNames: ['endpoint'] as const,
  // The import API takes up to ~10 s; the client times out later than that.
  buckets: [0.05, 0.1, 0.25, 0.5, 1, 2, 3, 5, 7.5, 10, 15, 30, 60, 90],
  registers: [registry],
});

const refreshDuration = new Histogram({
  name: 'mk_refresh_request_duration_seconds',
  help: 'Latency of POST /links/{id}/products',
  buckets: [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
  registers: [registry],
});

const refreshLag = new Histogram({
  name: 'mk_refresh_lag_seconds',
  help: 'How late a refresh call goes out after its due time (claimed products only)',
  // On time is well under a second; minutes mean the pipeline is falling behind.
  buckets: [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900, 3600],
  registers: [registry],
});

const apiCalls = new Counter({
  name: 'mk_api_calls_total',
  help: "MoneyKit API calls by endpoint and outcome ('ok' or the error class)",
  labelNames: ['endpoint', 'outcome'] as const,
  registers: [registry],
});

const rateLimited = new Counter({
  name: 'mk_api_rate_limited_total',
  help: 'MoneyKit answers with HTTP 429, by endpoint (should stay at 0 in a well-paced run)',
  labelNames: ['endpoint'] as const,
  registers: [registry],
});

const quotaDeferrals = new Counter({
  name: 'mk_refresh_quota_deferrals_total',
  help: 'Refreshes postponed because a per-link product quota window was still closed',
  registers: [registry],
});

const imports = new Counter({
  name: 'mk_imports_total',
  help: 'Source connections settled by the import worker, by outcome',
  labelNames: ['outcome'] as const,
  registers: [registry],
});

const notifyDeliveries = new Counter({
  name: 'mk_notify_deliveries_total',
  help: "Attempts to deliver an event to the team's endpoint (NOTIFY_URL), by outcome: delivered, failed (retried later), dead (given up on)",
  labelNames: ['outcome'] as const,
  registers: [registry],
});

/** How one delivery attempt of an event for the team's backend ended. */
export type NotifyOutcome = 'delivered' | 'failed' | 'dead';

// Label sets known up front are exported at 0, so dashboards and alerts see the series before the first event.
for (const endpoint of API_ENDPOINTS) {
  apiCalls.labels(endpoint, 'ok').inc(0);
  rateLimited.labels(endpoint).inc(0);
}
for (const outcome of ['imported', 'adopted', 'failed'] as const) imports.labels(outcome).inc(0);
quotaDeferrals.inc(0);
for (const outcome of ['delivered', 'failed', 'dead'] as const) notifyDeliveries.labels(outcome).inc(0);

export interface ApiCallRecord {
  endpoint: ApiEndpoint;
  /** HTTP status, if an answer arrived (none on timeout or reset). */
  status?: number;
  durationMs: number;
  /** Absent on success. */
  errorClass?: ErrorClass;
}

export function recordApiCall({ endpoint, status, durationMs, errorClass }: ApiCallRecord): void {
  const seconds = durationMs / 1000;
  if (endpoint === 'refresh_products') refreshDuration.observe(seconds);
  else if (IMPORT_ENDPOINTS.has(endpoint)) importDuration.labels(endpoint).observe(seconds);
  apiCalls.labels(endpoint, errorClass ?? 'ok').inc();
  if (status === 429) rateLimited.labels(endpoint).inc();
  traceApiCall({ endpoint, status, durationMs, errorClass });
}

/**
 * Times `call` and records its outcome. A thrown error is classified by its `errorClass`/`status` fields
 * (the MoneyKit client's MoneyKitError carries both) and rethrown unchanged.
 */
export async function timeApiCall<T>(endpoint: ApiEndpoint, call: () => Promise<T>): Promise<T> {
  const started = performance.now();
  try {
    const result = await call();
    recordApiCall({ endpoint, status: undefined, durationMs: performance.now() - started });
    return result;
  } catch (err) {
    const { errorClass, status } = (err ?? {}) as { errorClass?: ErrorClass; status?: number };
    const durationMs = performance.now() - started;
    if (errorClass) recordApiCall({ endpoint, status, durationMs, errorClass });
    else recordUnclassifiedFailure(endpoint, durationMs);
    throw err;
  }
}

function recordUnclassifiedFailure(endpoint: ApiEndpoint, durationMs: number): void {
  if (endpoint === 'refresh_products') refreshDuration.observe(durationMs / 1000);
  else if (IMPORT_ENDPOINTS.has(endpoint)) importDuration.labels(endpoint).observe(durationMs / 1000);
  apiCalls.labels(endpoint, 'unclassified').inc();
}

/** A refresh about to be sent `lagMs` after it was due. */
export function recordRefreshLag(lagMs: number): void {
  refreshLag.observe(Math.max(0, lagMs) / 1000);
}

export function recordQuotaDeferral(count = 1): void {
  quotaDeferrals.inc(count);
}

export function recordImport(outcome: ImportOutcome, count = 1): void {
  imports.labels(outcome).inc(count);
}

export function recordNotifyDelivery(outcome: NotifyOutcome): void {
  notifyDeliveries.labels(outcome).inc();
}

/** The Prometheus text of this process's registry. */
export function processMetrics(): Promise<string> {
  return registry.metrics();
}
