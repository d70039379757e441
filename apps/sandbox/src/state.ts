/**
 * The sandbox's whole in-memory world and every action on it. HTTP routes (API and /_sandbox control
 * surface) and in-process tests go through these same methods.
 */
import {
  windowMs,
  type ImportLinkRequest,
  type ImportTransaction,
  type LinkErrorCode,
  type Logger,
  type Product,
} from '@mk/shared';
import { LinkHistory, type LinkHistoryEntry } from './domain/history';
import { LinkStore, type LinkRecord } from './domain/links';
import { availableProducts, renderLink } from './domain/render';
import {
  FaultInjector,
  type FaultCounts,
  type FaultEndpoint,
  type FaultSettings,
  type FaultSettingsInput,
} from './faults/faults';
import { problems, rateLimited } from './http/problems';
import type { TokenStore } from './http/tokens';
import { SlidingWindow } from './limits/sliding-window';
import type { ResolvedOptions } from './options';
import type { Timers } from './util/timers';
import { WebhookDispatcher, type DeliveryRecord } from './webhooks/dispatcher';
import { linkStateChanged, productRefresh, type WebhookPayload } from './webhooks/events';
import type { WebhookSigner } from './webhooks/signer';

type PerLinkProduct = Map<string, Map<Product, number>>;

export interface SandboxCounters {
  linksCreated: number;
  liveLinks: number;
  /** Imports that created a second live link for the same user + institution + account set. */
  duplicateLinks: number;
  /** Live links per customer_user.id. */
  linksByCustomerUser: Record<string, number>;
  /** Arrivals of POST /links/import (authenticated, including those answered 429). */
  importCalls: number;
  /** Arrivals of POST /links/{id}/import/transactions (same rule). */
  importTransactionsCalls: number;
  transactionsImported: number;
  /** Imported transactions whose transaction_id the link already had (a retried batch). */
  duplicateTransactions: number;
  /** Accepted (202) refreshes per link and product. */
  refreshCalls: Record<string, Partial<Record<Product, number>>>;
  /** Refresh calls refused 429 because a requested product was inside its per-link window. */
  quotaViolationsAttempted: number;
  quotaViolations: Record<string, Partial<Record<Product, number>>>;
  /** Refresh calls refused 422 bad_state (link not connected). */
  badStateRefreshes: number;
  /** Calls refused by the app-wide import rate limit (injected rateLimitBurst 429s are in faultsInjected). */
  rateLimited429s: number;
  /** Reads refused 429 by MoneyKit's read limits (GET /links/{id}/accounts per link, GET /links/{id} per link and app). */
  readRateLimited429s: number;
  /** Most import + import-transactions calls that arrived within any 60 s. */
  maxImportCallsPerMinuteSeen: number;
  tokensIssued: number;
  faultsInjected: FaultCounts;
  webhooks: { delivered: number; failedAttempts: number; abandoned: number };
}

const MINUTE_MS = 60_000;

export class SandboxState {
  readonly links = new LinkStore();
  readonly faults: FaultInjector;
  readonly webhooks: WebhookDispatcher;
  readonly linkHistory: LinkHistory;
  private webhookUrl: string | null;
  private importArrivals = new SlidingWindow(MINUTE_MS);
  private importAdmitted = new SlidingWindow(MINUTE_MS);
  private tokenCalls = new SlidingWindow(MINUTE_MS);
  /** Per endpoint and link (and 'app' for the app-wide one): reads admitted in the last minute. */
  private readWindows = new Map<string, SlidingWindow>();
  private c = freshCounters();

  constructor(
    readonly options: ResolvedOptions,
    private readonly tokens: TokenStore,
    private readonly signer: WebhookSigner,
    private readonly timers: Timers,
    private readonly logger: Logger,
  ) {
    this.faults = new FaultInjector(options.seed);
    if (options.faults) this.faults.set(options.faults);
    this.webhookUrl = options.webhookUrl ?? null;
    const retryDelays = options.webhookRetryDelaysMs.map((ms) => Math.max(10, ms / options.timeScale));
    this.linkHistory = new LinkHistory(options.linkHistory === true);
    this.webhooks = new WebhookDispatcher(signer, timers, retryDelays, logger, (d) =>
      this.linkHistory.note(
        d.linkId,
        `webhook ${d.event}${d.detail ? ` ${d.detail}` : ''} attempt ${d.attempt} → ${d.status ?? d.error ?? '?'}`,
      ),
    );
  }

  /** What the sandbox saw of a link (empty unless started with `linkHistory`). */
  history(linkId: string): LinkHistoryEntry[] {
    return this.linkHistory.of(linkId);
  }

  // ---- auth -------------------------------------------------------------------------------------------

  admitTokenCall(now = Date.now()): void {
    const admission = this.tokenCalls.tryAdmit(this.options.tokenRatePerMinute, now);
    if (!admission.admitted) throw rateLimited(admission.retryAfterMs);
  }

  // ---- import -----------------------------------------------------------------------------------------

  /** Every authenticated import call counts, whatever it is answered: this is what proves a client's limiter. */
  recordImportArrival(endpoint: 'import' | 'import_transactions', now = Date.now()): void {
    if (endpoint === 'import') this.c.importCalls += 1;
    else this.c.importTransactionsCalls += 1;
    this.c.maxImportCallsPerMinuteSeen = Math.max(this.c.maxImportCallsPerMinuteSeen, this.importArrivals.record(now));
  }

  /** The app-wide 60/min import limit (wall-clock: a real minute whatever the time scale). */
  admitImportCall(now = Date.now()): void {
    const admission = this.importAdmitted.tryAdmit(this.options.importRatePerMinute, now);
    if (admission.admitted) return;
    this.c.rateLimited429s += 1;
    throw rateLimited(admission.retryAfterMs);
  }

  /** MoneyKit's read limits (wall-clock minutes, never time-scaled), answered 429 like every other limit. */
  admitRead(endpoint: 'accounts' | 'get_link', linkId: string, now = Date.now()): void {
    const limits = this.options.readLimits;
    const checks: [string, number][] =
      endpoint === 'accounts'
        ? [[`accounts ${linkId}`, limits.accountsPerLinkPerMin]]
        : [
            ['get_link', limits.linkPerAppPerMin],
            [`get_link ${linkId}`, limits.linkPerLinkPerMin],
          ];
    for (const [key, limit] of checks) {
      let window = this.readWindows.get(key);
      if (!window) this.readWindows.set(key, (window = new SlidingWindow(MINUTE_MS)));
      if (window.count(now) >= limit) {
        this.c.readRateLimited429s += 1;
        const admission = window.tryAdmit(limit, now);
        throw rateLimited(admission.admitted ? 1 : admission.retryAfterMs);
      }
    }
    for (const [key] of checks) this.readWindows.get(key)!.record(now);
  }

  importLink(req: ImportLinkRequest): LinkRecord {
    const { link, duplicate } = this.links.create(req, this.options.grantedProducts);
    this.linkHistory.note(link.id, `imported${duplicate ? ' (A DUPLICATE)' : ''}`);
    this.c.linksCreated += 1;
    this.c.transactionsImported += req.transactions.length;
    if (duplicate) {
      this.c.duplicateLinks += 1;
      // The sandbox works as designed here; it is the caller's retry that failed to reconcile.
      this.logger.info({ linkId: link.id, institutionId: link.institutionId }, 'import created a duplicate link');
    }
    return link;
  }

  /** Every transaction must name an account of this link: checked before anything is stored. */
  checkTransactionAccounts(link: LinkRecord, transactions: ImportTransaction[]): void {
    const bad = transactions.flatMap((t, i) => (link.accountsByOriginalId.has(t.account_id) ? [] : [i]));
    if (bad.length === 0) return;
    throw problems.validation(
      bad.map((i) => ({
        location: ['body', 'transactions', i, 'account_id'],
        message: 'does not match any account of the link',
        type: 'value_error',
      })),
    );
  }

  importTransactions(link: LinkRecord, transactions: ImportTransaction[]): LinkRecord {
    const { added, duplicates } = this.links.appendTransactions(link, transactions);
    this.c.transactionsImported += added;
    this.c.duplicateTransactions += duplicates;
    return link;
  }

  // ---- links ------------------------------------------------------------------------------------------

  /** The link, or 404 / 410 as every link route answers. */
  requireLink(id: string): LinkRecord {
    const link = this.links.get(id);
    if (!link) throw problems.linkNotFound();
    if (link.deletedAt) throw problems.linkDeleted();
    return link;
  }

  render(link: LinkRecord) {
    return renderLink(link, this.webhookUrl);
  }

  deleteLink(id: string): void {
    this.links.delete(this.requireLink(id));
  }

  updateLink(id: string, update: { webhook?: string | null; link_tags?: string[] }): LinkRecord {
    const link = this.requireLink(id);
    if (update.webhook !== undefined) link.webhook = update.webhook;
    if (update.link_tags !== undefined) link.tags = [...update.link_tags];
    return link;
  }

  // ---- refresh ----------------------------------------------------------------------------------------

  refresh(id: string, requested: Product[], now = Date.now()): LinkRecord {
    const link = this.requireLink(id);
    if (link.state !== 'connected') {
      this.c.badStateRefreshes += 1;
      this.linkHistory.note(id, `refresh ${requested.join('+')} → 422 bad_state`, now);
      throw problems.badState(link.errorCode ?? link.state);
    }
    const products = [...new Set(requested)];
    const allowed = new Set(availableProducts(link));
    const forbidden = products.filter((p) => !allowed.has(p));
    if (forbidden.length > 0) {
      this.linkHistory.note(id, `refresh ${products.join('+')} → 403 ${forbidden.join('+')}`, now);
      throw problems.forbidden(forbidden);
    }

    let waitMs = 0;
    for (const product of products) {
      const last = link.lastRefreshAcceptedAt.get(product);
      if (last === undefined) continue;
      const remaining = last + windowMs(this.options.quotas[product], this.options.timeScale) - now;
      if (remaining > 0) {
        waitMs = Math.max(waitMs, remaining);
        bump(this.c.quotaViolations, link.id, product);
      }
    }
    if (waitMs > 0) {
      this.c.quotaViolationsAttempted += 1;
      this.linkHistory.note(id, `refresh ${products.join('+')} → 429 QUOTA VIOLATION (${waitMs} ms early)`, now);
      throw rateLimited(waitMs, 'Refresh quota exceeded for this link and product');
    }

    const attemptedAt = new Date(now);
    this.linkHistory.note(id, `refresh ${products.join('+')} → 202`, now);
    for (const product of products) {
      link.lastRefreshAcceptedAt.set(product, now);
      const status = link.products.get(product) ?? {};
      status.lastAttemptedAt = attemptedAt;
      link.products.set(product, status);
      bump(this.c.refreshCalls, link.id, product);
      this.emit(link, () => productRefresh(link, product, 'in_progress', attemptedAt));
    }
    this.timers.later(this.options.refreshCompletionDelayMs, () => this.completeRefresh(link, products));
    return link;
  }

  private completeRefresh(link: LinkRecord, products: Product[]): void {
    if (link.deletedAt) return;
    const at = new Date();
    for (const product of products) {
      const status = link.products.get(product)!;
      status.refreshedAt = at;
      this.emit(link, () => productRefresh(link, product, 'completed', at));
    }
  }

  // ---- control surface --------------------------------------------------------------------------------

  /** As the end user would via a link session with existing_link_id: the link becomes connected. */
  reconnect(id: string): LinkRecord {
    const link = this.requireLink(id);
    link.state = 'connected';
    link.errorCode = null;
    this.linkHistory.note(id, 'reconnected by its user');
    this.emit(link, () => linkStateChanged(link));
    return link;
  }

  /** The link breaks (e.g. the user's credentials expire): refreshes answer bad_state until reconnected. */
  disconnect(id: string, errorCode: LinkErrorCode = 'auth_expired'): LinkRecord {
    const link = this.requireLink(id);
    link.state = 'error';
    link.errorCode = errorCode;
    this.emit(link, () => linkStateChanged(link));
    return link;
  }

  /** The end user withdraws (or never gave) consent for these products on this link: refreshes get 403. */
  denyProducts(id: string, products: Product[]): LinkRecord {
    const link = this.requireLink(id);
    for (const p of products) link.denied.add(p);
    return link;
  }

  allowProducts(id: string, products: Product[]): LinkRecord {
    const link = this.requireLink(id);
    for (const p of products) {
      link.denied.delete(p);
      link.granted.add(p);
      if (!link.products.has(p)) link.products.set(p, {});
    }
    return link;
  }

  setFaults(input: FaultSettingsInput): FaultSettings {
    return this.faults.set(input);
  }

  setWebhookUrl(url: string | null): void {
    this.webhookUrl = url;
  }

  get currentWebhookUrl(): string | null {
    return this.webhookUrl;
  }

  rotateSigningKey(): Promise<string> {
    return this.signer.rotate();
  }

  replayLastWebhook(): Promise<DeliveryRecord | undefined> {
    return this.webhooks.replayLast();
  }

  expireTokens(): number {
    return this.tokens.expireAll();
  }

  /** The app's client secret changes: who holds the old one gets no new token (tokens already issued stay valid). */
  rotateClientSecret(secret: string): void {
    this.tokens.rotateSecret(secret);
  }

  counters(): SandboxCounters {
    return {
      ...this.c,
      liveLinks: this.links.liveCount(),
      linksByCustomerUser: this.links.liveLinksByUser(),
      refreshCalls: toObject(this.c.refreshCalls),
      quotaViolations: toObject(this.c.quotaViolations),
      tokensIssued: this.tokens.issued,
      faultsInjected: { ...this.faults.counts },
      webhooks: {
        delivered: this.webhooks.delivered,
        failedAttempts: this.webhooks.failedAttempts,
        abandoned: this.webhooks.abandoned,
      },
    } as SandboxCounters;
  }

  /** Forget links, counters, faults, limits and pending work; keep tokens and signing keys. */
  reset(): void {
    this.timers.cancelAll();
    this.links.clear();
    this.faults.reset();
    this.webhooks.reset();
    this.linkHistory.clear();
    this.importArrivals.clear();
    this.importAdmitted.clear();
    this.tokenCalls.clear();
    this.readWindows.clear();
    this.c = freshCounters();
    this.tokens.issued = 0;
  }

  private emit(link: LinkRecord, build: () => WebhookPayload): void {
    const url = link.webhook ?? this.webhookUrl;
    if (url) this.webhooks.send(url, build());
  }
}

function freshCounters() {
  return {
    linksCreated: 0,
    duplicateLinks: 0,
    importCalls: 0,
    importTransactionsCalls: 0,
    transactionsImported: 0,
    duplicateTransactions: 0,
    refreshCalls: new Map() as PerLinkProduct,
    quotaViolationsAttempted: 0,
    quotaViolations: new Map() as PerLinkProduct,
    badStateRefreshes: 0,
    rateLimited429s: 0,
    readRateLimited429s: 0,
    maxImportCallsPerMinuteSeen: 0,
  };
}

function bump(index: PerLinkProduct, linkId: string, product: Product): void {
  let perProduct = index.get(linkId);
  if (!perProduct) index.set(linkId, (perProduct = new Map()));
  perProduct.set(product, (perProduct.get(product) ?? 0) + 1);
}

function toObject(index: PerLinkProduct): Record<string, Partial<Record<Product, number>>> {
  const out: Record<string, Partial<Record<Product, number>>> = {};
  for (const [linkId, perProduct] of index) out[linkId] = Object.fromEntries(perProduct);
  return out;
}
