/**
 * The typed MoneyKit client. Each method is one API call: it measures and sends the exact body, authorizes
 * with a shared cached token (any 401 of an API call gets one fresh token and one retry: the token may have
 * expired, or a restarted server may have forgotten it), validates the response against the contract, and
 * throws only MoneyKitError.
 */
import { z } from 'zod';
import {
  accessTokenResponseSchema,
  linkSchema,
  MAX_REQUEST_BYTES,
  MONEYKIT_API_VERSION,
  moneykitEnvSchema,
  userLinksResponseSchema,
  type AccessTokenResponse,
  type ErrorClass,
  type ImportLinkRequest,
  type ImportTransactionsRequest,
  type Link,
  type Logger,
  type Product,
  type RefreshProductsRequest,
} from '@mk/shared';
import { serializeBody, type SerializedBody } from './body';
import {
  classifyHttpFailure,
  classifyInvalidSuccess,
  classifyTransportFailure,
  sendWindowPassed,
  isRefusedTokenError,
  payloadTooLarge,
} from './classify';
import { ENDPOINTS, endpointPath, type EndpointName } from './endpoints';
import { isMoneyKitError, MoneyKitError } from './errors';
import { TokenCache } from './token-cache';
import { HARD_DEADLINE_GRACE_MS, Transport, type HttpRequest } from './transport';

/** The timeouts' defaults are the settings' (MONEYKIT_IMPORT_TIMEOUT_MS, MONEYKIT_TIMEOUT_MS): written once, there. */
const SETTING_DEFAULTS = moneykitEnvSchema.parse({});
export const DEFAULT_IMPORT_TIMEOUT_MS = SETTING_DEFAULTS.MONEYKIT_IMPORT_TIMEOUT_MS;
export const DEFAULT_TIMEOUT_MS = SETTING_DEFAULTS.MONEYKIT_TIMEOUT_MS;
export const DEFAULT_MAX_SOCKETS = 64;

/** One HTTP exchange, for metrics. `status` is absent when no response came back. */
export interface ResponseInfo {
  endpoint: EndpointName;
  status?: number;
  durationMs: number;
  errorClass?: ErrorClass;
}

export interface MoneyKitClientOptions {
  baseUrl: string;
  clientId: string;
  clientSecret: string;
  /** Read timeout of /links/import and /links/{id}/import/transactions (MoneyKit takes up to ~10 s). */
  importTimeoutMs?: number;
  /** Read timeout of every other call. */
  timeoutMs?: number;
  /** Keep-alive sockets per origin: size it to the calls a process runs at once. */
  maxSockets?: number;
  logger?: Logger;
  onResponse?: (info: ResponseInfo) => void;
  /** Clock of the token cache (tests skew it to make the server see an expired token). */
  clock?: () => number;
}

/** The JSON Web Key Set that signs webhooks. */
export const jwksSchema = z.object({
  keys: z.array(z.object({ kty: z.string(), kid: z.string().optional() }).passthrough()),
});
export type Jwks = z.infer<typeof jwksSchema>;

const anyBody = z.unknown();

/** Only what this service reads of GET /links/{id}/accounts and /transactions (validated, the rest passes). */
export const linkAccountsSchema = z
  .object({ accounts: z.array(z.object({ account_id: z.string(), original_id: z.string().nullish() }).passthrough()) })
  .passthrough();
export type LinkAccounts = z.infer<typeof linkAccountsSchema>;
export const linkTransactionsPageSchema = z
  .object({
    total: z.number().int(),
    page: z.number().int(),
    size: z.number().int(),
    // Amounts are answered non-negative, with `type` credit (money in) or debit (money out); `account_id` is MoneyKit's.
    transactions: z.array(
      z
        .object({
          transaction_id: z.string(),
          original_id: z.string().nullish(),
          account_id: z.string().optional(),
          amount: z.string().optional(),
          type: z.string().optional(),
          date: z.string().optional(),
          description: z.string().nullish(),
        })
        .passthrough(),
    ),
  })
  .passthrough();
export type LinkTransactionsPage = z.infer<typeof linkTransactionsPageSchema>;

interface CallSpec<S extends z.ZodTypeAny> {
  endpoint: EndpointName;
  id?: string;
  query?: Record<string, string>;
  body?: unknown;
  schema: S;
  /** No exchange starts after this (epoch ms). */
  sendBy?: number;
}

export class MoneyKitClient {
  private readonly transport: Transport;
  private readonly tokens: TokenCache;
  private readonly importTimeoutMs: number;
  private readonly timeoutMs: number;

  constructor(private readonly options: MoneyKitClientOptions) {
    this.importTimeoutMs = options.importTimeoutMs ?? DEFAULT_IMPORT_TIMEOUT_MS;
    this.timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
    this.transport = new Transport({ baseUrl: options.baseUrl, maxSockets: options.maxSockets ?? DEFAULT_MAX_SOCKETS });
    this.tokens = new TokenCache(() => this.fetchToken(), options.clock);
  }

  /** POST /links/import. Not idempotent: after a failure with mayHaveTakenEffect, look for the link (getUserLinks) before retrying. */
  importLink(request: ImportLinkRequest): Promise<Link> {
    return this.call({ endpoint: 'import_link', body: request, schema: linkSchema });
  }

  /** POST /links/{id}/import/transactions: the rest of a user's transactions, in bodies of at most 1 MB. */
  importTransactions(linkId: string, request: ImportTransactionsRequest): Promise<Link> {
    return this.call({ endpoint: 'import_transactions', id: linkId, body: request, schema: linkSchema });
  }

  /**
   * POST /links/{id}/products: 202, the refresh itself runs asynchronously. With `sendBy` (epoch ms) no exchange of
   * it — the retry after a refused token included — starts later than that (CLIENT_CODES.sendWindowPassed instead).
   */
  refreshProducts(linkId: string, products: Product[], opts: { sendBy?: number } = {}): Promise<Link> {
    const body: RefreshProductsRequest = { products };
    return this.call({
      endpoint: 'refresh_products',
      id: linkId,
      body,
      schema: linkSchema,
      ...(opts.sendBy !== undefined && { sendBy: opts.sendBy }),
    });
  }

  /** The longest one exchange with this endpoint can last: its timeout plus the transport's hard-deadline grace. */
  maxExchangeMs(endpoint: EndpointName): number {
    return (ENDPOINTS[endpoint].slow ? this.importTimeoutMs : this.timeoutMs) + HARD_DEADLINE_GRACE_MS;
  }

  getLink(linkId: string): Promise<Link> {
    return this.call({ endpoint: 'get_link', id: linkId, schema: linkSchema });
  }

  /** Every link of one customer user, keyed by link_id. */
  async getUserLinks(customerUserId: string): Promise<Record<string, Link>> {
    const res = await this.call({ endpoint: 'get_user_links', id: customerUserId, schema: userLinksResponseSchema });
    return res.links;
  }

  /** The link's accounts; `original_id` is the account_id we imported (how a lost import is recognised). */
  getLinkAccounts(linkId: string): Promise<LinkAccounts> {
    return this.call({ endpoint: 'get_link_accounts', id: linkId, schema: linkAccountsSchema });
  }

  /**
   * One page of the link's transactions; `original_id` is the transaction_id we imported. MoneyKit answers only
   * the last 90 days unless `startDate`/`endDate` (YYYY-MM-DD) say otherwise.
   */
  getLinkTransactions(
    linkId: string,
    page: { page: number; size: number; startDate?: string; endDate?: string },
  ): Promise<LinkTransactionsPage> {
    const query: Record<string, string> = { page: String(page.page), size: String(page.size) };
    if (page.startDate) query.start_date = page.startDate;
    if (page.endDate) query.end_date = page.endDate;
    return this.call({ endpoint: 'get_link_transactions', id: linkId, query, schema: linkTransactionsPageSchema });
  }

  async deleteLink(linkId: string): Promise<void> {
    await this.call({ endpoint: 'delete_link', id: linkId, schema: anyBody });
  }

  /** GET /.well-known/jwks.json (no authorization needed). */
  getJwks(): Promise<Jwks> {
    return this.exchange('get_jwks', { path: endpointPath('get_jwks'), headers: {} }, jwksSchema);
  }

  /** Closes the keep-alive sockets. */
  close(): void {
    this.transport.close();
  }

  private async call<S extends z.ZodTypeAny>(spec: CallSpec<S>): Promise<z.infer<S>> {
    const path =
      endpointPath(spec.endpoint, spec.id) + (spec.query ? `?${new URLSearchParams(spec.query).toString()}` : '');
    const body = spec.body === undefined ? undefined : serializeBody(spec.body);
    if (body && body.bytes > MAX_REQUEST_BYTES) throw payloadTooLarge(spec.endpoint, body.bytes);

    const token = await this.tokens.get();
    try {
      return await this.authorized(spec, path, body, token);
    } catch (err) {
      // Expired, or forgotten by a server that restarted: only a fresh token tells a refused credential apart.
      if (!isRefusedTokenError(err)) throw err;
      this.options.logger?.info(
        { endpoint: spec.endpoint, code: err.code },
        'MoneyKit refused our access token: fetching a fresh one and retrying once',
      );
      return this.authorized(spec, path, body, await this.tokens.renew(token));
    }
  }

  /**
   * Asks the token endpoint for a fresh token (kept for the calls that follow): resolves when MoneyKit accepts
   * our credentials, throws the classified failure (`auth` when it refuses them) otherwise.
   */
  async verifyCredentials(): Promise<void> {
    await this.tokens.refresh();
  }

  private authorized<S extends z.ZodTypeAny>(
    spec: CallSpec<S>,
    path: string,
    body: SerializedBody | undefined,
    token: string,
  ): Promise<z.infer<S>> {
    const late = spec.sendBy === undefined ? 0 : Date.now() - spec.sendBy;
    if (late > 0) return Promise.reject(sendWindowPassed(spec.endpoint, late));
    const headers: Record<string, string> = { Authorization: `Bearer ${token}` };
    if (body) headers['Content-Type'] = 'application/json';
    return this.exchange(spec.endpoint, { path, headers, ...(body && { data: body.json }) }, spec.schema);
  }

  private fetchToken(): Promise<AccessTokenResponse> {
    const form = new URLSearchParams({
      grant_type: 'client_credentials',
      client_id: this.options.clientId,
      client_secret: this.options.clientSecret,
    });
    return this.exchange(
      'auth_token',
      {
        path: endpointPath('auth_token'),
        headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
        data: form.toString(),
      },
      accessTokenResponseSchema,
    );
  }

  /** One HTTP exchange: send, classify any failure, validate a success. */
  private async exchange<S extends z.ZodTypeAny>(
    endpoint: EndpointName,
    req: { path: string; headers: Record<string, string>; data?: string },
    schema: S,
  ): Promise<z.infer<S>> {
    const { method, slow } = ENDPOINTS[endpoint];
    const request: HttpRequest = {
      method,
      path: req.path,
      timeoutMs: slow ? this.importTimeoutMs : this.timeoutMs,
      headers: { Accept: 'application/json', 'MoneyKit-Version': MONEYKIT_API_VERSION, ...req.headers },
      ...(req.data !== undefined && { data: req.data }),
    };
    const started = performance.now();
    let status: number | undefined;
    try {
      const res = await this.transport.send(request).catch((err: unknown) => {
        throw classifyTransportFailure(endpoint, err);
      });
      status = res.status;
      if (res.status < 200 || res.status >= 300)
        throw classifyHttpFailure({ endpoint, status: res.status, headers: res.headers, body: res.body });
      const parsed = schema.safeParse(res.body);
      if (!parsed.success) throw classifyInvalidSuccess(endpoint, res.status);
      this.report({ endpoint, status, durationMs: performance.now() - started });
      return parsed.data;
    } catch (err) {
      // Anything else escaping here is our own bug: still never let it carry request data out.
      const failure = isMoneyKitError(err) ? err : classifyTransportFailure(endpoint, err);
      this.report({
        endpoint,
        ...(status !== undefined && { status }),
        durationMs: performance.now() - started,
        errorClass: failure.errorClass,
      });
      throw failure;
    }
  }

  private report(info: ResponseInfo): void {
    this.options.logger?.debug(info, 'MoneyKit call');
    try {
      this.options.onResponse?.(info);
    } catch {
      // A metrics hook must never fail a call.
    }
  }
}
