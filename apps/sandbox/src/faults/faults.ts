/**
 * Injected upstream failures: the ways a real API call goes wrong that the service must survive.
 * Faults apply to API routes only (never /auth/token, /.well-known or /_sandbox).
 */
import { z } from 'zod';
import { seededRng, type Rng } from './rng';

/** The API endpoints a fault can be aimed at. */
export const FAULT_ENDPOINTS = [
  'import',
  'import_transactions',
  'refresh',
  'get_link',
  'user_links',
  'delete_link',
  'accounts',
  'transactions',
  'update_link',
] as const;
export type FaultEndpoint = (typeof FAULT_ENDPOINTS)[number];

const rate = z.number().min(0).max(1);
export const faultSettingsSchema = z
  .object({
    /** Share of calls answered 500 without any effect. */
    error5xxRate: rate.default(0),
    /** Share of calls whose socket is destroyed without an answer, without any effect. */
    dropRate: rate.default(0),
    /** Share of calls answered only after `timeoutMs` (then processed normally: a slow call still commits). */
    timeoutRate: rate.default(0),
    timeoutMs: z.number().int().min(0).max(600_000).default(30_000),
    /** Share of import/import-transactions calls that commit, then answer 500 or drop the connection. */
    commitThenFailRate: rate.default(0),
    /** How a commit-then-fail call fails: a 500, a dropped socket, or either at random. */
    commitThenFailAs: z.enum(['5xx', 'drop', 'either']).default('either'),
    /** The next N matching API calls get 429 with Retry-After. Counts down as it fires. */
    rateLimitBurst: z.number().int().min(0).default(0),
    rateLimitBurstRetryAfterSeconds: z.number().int().min(1).default(1),
    /** Only these endpoints are hit; absent = every API endpoint. */
    endpoints: z.array(z.enum(FAULT_ENDPOINTS)).min(1).optional(),
  })
  .strict();
export type FaultSettings = z.infer<typeof faultSettingsSchema>;
export type FaultSettingsInput = z.input<typeof faultSettingsSchema>;

/** What to do with one call before it is handled. */
export type PreFault =
  | { kind: 'none' }
  | { kind: 'error5xx' }
  | { kind: 'drop' }
  | { kind: 'timeout'; ms: number }
  | { kind: 'rateLimitBurst'; retryAfterSeconds: number };
/** What to do with one import call after it committed. */
export type PostFault = { kind: 'none' } | { kind: 'error5xx' } | { kind: 'drop' };

export interface FaultCounts {
  error5xx: number;
  drop: number;
  timeout: number;
  commitThenFail: number;
  rateLimitBurst: number;
}

export class FaultInjector {
  private settings: FaultSettings = faultSettingsSchema.parse({});
  private rng: Rng;
  counts: FaultCounts = emptyCounts();

  constructor(seed: number = Date.now()) {
    this.rng = seededRng(seed);
  }

  get current(): FaultSettings {
    return { ...this.settings };
  }

  /** Replaces every fault setting (absent fields fall back to "off"). */
  set(input: FaultSettingsInput): FaultSettings {
    this.settings = faultSettingsSchema.parse(input);
    return this.current;
  }

  reset(): void {
    this.settings = faultSettingsSchema.parse({});
    this.counts = emptyCounts();
  }

  private targets(endpoint: FaultEndpoint): boolean {
    return !this.settings.endpoints || this.settings.endpoints.includes(endpoint);
  }

  /** Draws only when a rate is set, so that turning one fault on does not shift another's sequence. */
  private hit(p: number): boolean {
    return p > 0 && this.rng() < p;
  }

  before(endpoint: FaultEndpoint): PreFault {
    if (!this.targets(endpoint)) return { kind: 'none' };
    const s = this.settings;
    if (s.rateLimitBurst > 0) {
      s.rateLimitBurst -= 1;
      this.counts.rateLimitBurst += 1;
      return { kind: 'rateLimitBurst', retryAfterSeconds: s.rateLimitBurstRetryAfterSeconds };
    }
    if (this.hit(s.error5xxRate)) {
      this.counts.error5xx += 1;
      return { kind: 'error5xx' };
    }
    if (this.hit(s.dropRate)) {
      this.counts.drop += 1;
      return { kind: 'drop' };
    }
    if (this.hit(s.timeoutRate)) {
      this.counts.timeout += 1;
      return { kind: 'timeout', ms: s.timeoutMs };
    }
    return { kind: 'none' };
  }

  afterCommit(endpoint: FaultEndpoint): PostFault {
    if (!this.targets(endpoint) || !this.hit(this.settings.commitThenFailRate)) return { kind: 'none' };
    this.counts.commitThenFail += 1;
    const as = this.settings.commitThenFailAs;
    if (as === '5xx') return { kind: 'error5xx' };
    if (as === 'drop') return { kind: 'drop' };
    return this.rng() < 0.5 ? { kind: 'error5xx' } : { kind: 'drop' };
  }
}

function emptyCounts(): FaultCounts {
  return { error5xx: 0, drop: 0, timeout: 0, commitThenFail: 0, rateLimitBurst: 0 };
}
