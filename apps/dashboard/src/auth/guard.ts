/**
 * Every route needs a signed-in user except the login page and the probes/metrics. Viewers may only read
 * (GET/HEAD) and never reach the admin board; admins may do everything. A browser without a session is sent
 * to the login form; API clients get 401 and may send HTTP Basic credentials instead (curl -u user:pass).
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { verifyCredentials, parseBasicAuth, type DashboardUser, type Principal } from './credentials';
import { LoginThrottle } from './throttle';
import { SESSION_COOKIE, SessionSigner, clearedSessionCookie, readCookie, sessionCookie } from './session';
import { loginPage } from '../views/login';
import { forbiddenPage } from '../views/runs';

export type AuthOptions =
  | {
      mode: 'credentials';
      users: DashboardUser[];
      /** HMAC key of session cookies; share it between replicas. Default: random per process. */
      sessionSecret?: string;
      sessionTtlMs?: number;
      /** Mark the cookie Secure (the dashboard is served over HTTPS). */
      cookieSecure?: boolean;
    }
  /** Local development only (main.ts allows it only on a loopback host): everyone is an admin. */
  | { mode: 'none' };

declare module 'fastify' {
  interface FastifyRequest {
    principal: Principal | null;
  }
}

const PUBLIC_PATHS = new Set(['/login', '/healthz', '/readyz', '/metrics', '/favicon.ico']);
const SAFE_METHODS = new Set(['GET', 'HEAD']);
const DEV_PRINCIPAL: Principal = { username: 'dev', role: 'admin' };

export interface GuardOptions {
  auth: AuthOptions;
  /** Paths under this prefix need the admin role. */
  adminOnlyPrefix: string;
  /** Where the board link points, for the forbidden page. */
  boardPath: string;
}

/** A local path to return to after login; anything else (other hosts, `//evil`) falls back to /runs. */
export function safeNext(next: unknown): string {
  return typeof next === 'string' && next.startsWith('/') && !next.startsWith('//') && !next.startsWith('/\\') ? next : '/runs';
}

const pathOf = (url: string) => url.split('?')[0]!;
const wantsHtml = (req: FastifyRequest) => SAFE_METHODS.has(req.method) && (req.headers.accept ?? '').includes('text/html');

export function installAuth(app: FastifyInstance, opts: GuardOptions): void {
  const { auth } = opts;
  app.decorateRequest('principal', null);

  if (auth.mode === 'none') {
    app.addHook('onRequest', async (req) => {
      req.principal = DEV_PRINCIPAL;
    });
    app.get('/login', async (_req, reply) => reply.redirect('/runs'));
    return;
  }

  const signer = new SessionSigner(auth.sessionSecret, auth.sessionTtlMs ?? 12 * 3600_000);
  const throttle = new LoginThrottle();
  const secure = auth.cookieSecure ?? false;

  app.addContentTypeParser('application/x-www-form-urlencoded', { parseAs: 'string', bodyLimit: 4096 }, (_req, body, done) => {
    done(null, Object.fromEntries(new URLSearchParams(body as string)));
  });

  app.addHook('onRequest', async (req, reply) => {
    // The matched route's pattern, not the raw URL: `/board/%61dmin/…` and `/board/./admin/…` reach the admin
    // board too, and must be judged as such. Unmatched URLs (404s) fall back to the path.
    const path = req.routeOptions.url ?? pathOf(req.url);
    const basic = parseBasicAuth(req.headers.authorization);
    req.principal = basic
      ? (verifyCredentials(auth.users, basic.username, basic.password) ?? null)
      : (signer.verify(readCookie(req.headers.cookie, SESSION_COOKIE)) ?? null);
    if (PUBLIC_PATHS.has(path)) return;
    if (path === '/logout') return; // signing out needs no valid session
    if (!req.principal) return refuseAnonymous(req, reply);
    if (req.principal.role === 'admin') return;
    if (path === opts.adminOnlyPrefix || path.startsWith(`${opts.adminOnlyPrefix}/`) || !SAFE_METHODS.has(req.method)) {
      return refuseViewer(req, reply);
    }
  });

  const refuseViewer = (req: FastifyRequest, reply: FastifyReply) =>
    wantsHtml(req)
      ? reply.code(403).type('text/html').send(forbiddenPage({ principal: req.principal ?? undefined, boardPath: opts.boardPath }))
      : reply.code(403).send({ error: 'forbidden', message: 'read-only role' });

  app.get<{ Querystring: { next?: string } }>('/login', async (req, reply) => {
    if (req.principal) return reply.redirect(safeNext(req.query.next));
    return reply.type('text/html').send(loginPage({ next: safeNext(req.query.next) }));
  });

  app.post<{ Body: { username?: string; password?: string; next?: string } }>('/login', async (req, reply) => {
    const address = req.ip;
    const next = safeNext(req.body?.next);
    const wait = throttle.blockedFor(address);
    if (wait > 0) {
      return reply.code(429).header('retry-after', String(wait)).type('text/html')
        .send(loginPage({ next, error: `Too many failed attempts. Try again in ${Math.ceil(wait / 60)} min.` }));
    }
    const principal = verifyCredentials(auth.users, String(req.body?.username ?? ''), String(req.body?.password ?? ''));
    if (!principal) {
      throttle.fail(address);
      req.log.warn({ ip: address }, 'dashboard login failed');
      return reply.code(401).type('text/html').send(loginPage({ next, error: 'Wrong username or password.' }));
    }
    throttle.succeed(address);
    req.log.info({ user: principal.username, role: principal.role }, 'dashboard login');
    return reply
      .header('set-cookie', sessionCookie(signer.sign(principal), { maxAgeSeconds: signer.maxAgeSeconds, secure }))
      .redirect(next, 303);
  });

  const logout = async (_req: FastifyRequest, reply: FastifyReply) =>
    reply.header('set-cookie', clearedSessionCookie(secure)).redirect('/login', 303);
  app.post('/logout', logout);
  app.get('/logout', logout);
}

function refuseAnonymous(req: FastifyRequest, reply: FastifyReply) {
  if (wantsHtml(req)) return reply.redirect(`/login?next=${encodeURIComponent(req.url)}`);
  return reply.code(401).send({ error: 'unauthorized', message: 'sign in at /login or send HTTP Basic credentials' });
}
