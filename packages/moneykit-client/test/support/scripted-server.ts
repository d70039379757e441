/**
 * A tiny HTTP server the test scripts response by response: exact control over statuses, headers, delays,
 * dropped sockets and token expiry, which the sandbox offers only statistically. It issues tokens itself
 * and answers 401 expired_access_token for any token the test has expired.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { ERROR_CODES, type Link } from '@mk/shared';

export interface RecordedRequest {
  method: string;
  url: string;
  headers: http.IncomingHttpHeaders;
  body: string;
  /** Bytes received on the wire. */
  bytes: number;
}

export type Handler = (req: RecordedRequest, res: http.ServerResponse) => void | Promise<void>;

export const CLIENT_ID = 'test-client-id';
export const CLIENT_SECRET = 'test-client-secret-DO-NOT-LEAK';

export function sendJson(
  res: http.ServerResponse,
  status: number,
  body: unknown,
  headers: Record<string, string> = {},
): void {
  const json = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(json), ...headers });
  res.end(json);
}

export function apiError(error_code: string, extra: Record<string, unknown> = {}) {
  return { error_code, error_message: `error ${error_code}`, documentation_url: 'https://docs.moneykit.com', ...extra };
}

export function aLink(linkId = 'mk_link_1'): Link {
  return {
    link_id: linkId,
    institution_id: 'mx.chase',
    institution_name: 'Chase',
    institution_avatar: null,
    state: 'error',
    error_code: 'auth_expired',
    provider: 'mx',
    link_tags: [],
    webhook: null,
    products: {},
    available_products: ['accounts', 'transactions'],
  };
}

export interface ScriptedServer {
  url: string;
  /** API requests (not token requests), in arrival order. */
  requests: RecordedRequest[];
  tokenRequests: RecordedRequest[];
  connections: number;
  /** Tokens from now on answered with 401 expired_access_token. */
  expireIssuedTokens(): void;
  /** Tokens from now on unknown (401 unauthorized), as after a server restart. */
  forgetIssuedTokens(): void;
  /** Credentials the token endpoint accepts (default CLIENT_ID / CLIENT_SECRET). */
  credentials: { id: string; secret: string };
  tokenDelayMs: number;
  tokenExpiresIn: number;
  handle(handler: Handler): void;
  close(): Promise<void>;
}

export async function startScriptedServer(): Promise<ScriptedServer> {
  let handler: Handler = (_req, res) => sendJson(res, 200, aLink());
  const issued: string[] = [];
  const expired = new Set<string>();
  const forgotten = new Set<string>();

  const state: ScriptedServer = {
    url: '',
    requests: [],
    tokenRequests: [],
    connections: 0,
    tokenDelayMs: 0,
    tokenExpiresIn: 3600,
    expireIssuedTokens: () => issued.forEach((t) => expired.add(t)),
    forgetIssuedTokens: () => issued.forEach((t) => forgotten.add(t)),
    credentials: { id: CLIENT_ID, secret: CLIENT_SECRET },
    handle: (h) => (handler = h),
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };

  const server = http.createServer(async (req, res) => {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const raw = Buffer.concat(chunks);
    const recorded: RecordedRequest = {
      method: req.method ?? '',
      url: req.url ?? '',
      headers: req.headers,
      body: raw.toString('utf8'),
      bytes: raw.length,
    };

    if (recorded.url === '/auth/token') {
      state.tokenRequests.push(recorded);
      if (state.tokenDelayMs) await new Promise((r) => setTimeout(r, state.tokenDelayMs));
      const form = new URLSearchParams(recorded.body);
      if (form.get('client_id') !== state.credentials.id || form.get('client_secret') !== state.credentials.secret) {
        return sendJson(res, 401, apiError(ERROR_CODES.unauthorized));
      }
      const token = `token-${issued.length + 1}-SECRET`;
      issued.push(token);
      return sendJson(res, 201, { access_token: token, token_type: 'bearer', expires_in: state.tokenExpiresIn });
    }

    state.requests.push(recorded);
    const bearer = /^Bearer (.+)$/.exec(req.headers.authorization ?? '')?.[1];
    if (recorded.url !== '/.well-known/jwks.json') {
      if (!bearer || !issued.includes(bearer) || forgotten.has(bearer))
        return sendJson(res, 401, apiError(ERROR_CODES.unauthorized));
      if (expired.has(bearer)) return sendJson(res, 401, apiError(ERROR_CODES.expiredToken));
    }
    await handler(recorded, res);
  });
  server.on('connection', () => (state.connections += 1));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  state.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return state;
}
