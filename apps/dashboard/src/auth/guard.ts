/**
 * Every route needs a signed-in user except the login page and the probes/metrics. Viewers may only read
 * (GET/HEAD) and never reach the admin board; admins may do everything. A browser without a session is sent
 * to the login form; API clients get 401 and may send HTTP Basic credentials instead (curl -u user:pass).
 * Every credential check, form or Basic, goes through one throttle and every failure is logged (never the
 * password); every state-changing request from another site is refused.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import fastifyCookie from '@fastify/cookie';
import type { Redis } from '@mk/shared';
import { verifyCredentials, parseBasicAuth, safeEqual, type DashboardUser, type Principal } from './credentials';
import { CredentialThrottle, type ThrottleLimits } from './throttle';
import { SESSION_COOKIE, SessionStore } from './session';
import { crossSiteReason } from './origin';
import { loginPage } from '../views/login';
import { forbiddenPage } from '../views/runs';

/** Defaults of the credential throttle; the config schema reads them from here. */
export const DEFAULT_THROTTLE: ThrottleLimits = { perAddress: 10, perUser: 30, windowSeconds: 15 * 60 };
export const DEFAULT_SESSION_TTL_HOURS = 12;

export type AuthOptions =
  | {
      mode: 'credentials';
      users: DashboardUser[];
      sessionTtlMs?: number;
      /** Mark the cookie Secure (the dashboard is served over HTTPS). */
      cookieSecure?: boolean;
      throttle?: ThrottleLimits;
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
  /** Sessions and throttle counters live here. */
  redis: Redis;
  prefix: string;
  /** Paths under this prefix need the admin role. */
  adminOnlyPrefix: string;
  /** Where the board link points, for the forbidden page. */
  boardPath: string;
}

/** A local path to return to after login; anything else (other hosts, `//evil`) falls back to /runs. */
export function safeNext(next: unknown): string {
  return typeof next === 'string' && next.startsWith('/') && !next.startsWith('//') && !next.startsWith('/\\')
    ? next
    : '/runs';
}

const pathOf = (url: string) => url.split('?')[0]!;
const wantsHtml = (req: FastifyRequest) =>
  SAFE_METHODS.has(req.method) && (req.headers.accept ?? '').includes('text/html');

export async function installAuth(app: FastifyInstance, opts: GuardOptions): Promise<void> {
  const { auth } = opts;
  app.decorateRequest('principal', null);
  await app.register(fastifyCookie);

  app.addHook('onRequest', async (req, reply) => {
    const reason = crossSiteReason(req);
    if (!reason) return;
    req.log.warn({ ip: req.ip, method: req.method, path: pathOf(req.url) }, `cross-site request refused: ${reason}`);
    return reply.code(403).send({ error: 'forbidden', message: 'cross-site request refused' });
  });

  if (auth.mode === 'none') {
    app.addHook('onRequest', async (req) => {
      req.principal = DEV_PRINCIPAL;
    });
    app.get('/login', async (_req, reply) => reply.redirect('/runs'));
    return;
  }

  const sessions = new SessionStore(
    opts.redis,
    opts.prefix,
    auth.users,
    auth.sessionTtlMs ?? DEFAULT_SESSION_TTL_HOURS * 3600_000,
  );
  const throttle = new CredentialThrottle(opts.redis, opts.prefix, auth.throttle ?? DEFAULT_THROTTLE);
  const secure = auth.cookieSecure ?? false;
  const cookieOptions = { path: '/', httpOnly: true, sameSite: 'strict' as const, secure };

  /** Checks credentials through the throttle: the principal, or the seconds to wait, or a failure (logged). */
  type Outcome = { principal: Principal } | { waitSeconds: number } | { failed: true };
  const checkCredentials = async (
    req: FastifyRequest,
    via: 'form' | 'basic',
    username: string,
    password: string,
  ): Promise<Outcome> => {
    const verdict = await throttle.check(username, req.ip);
    if (verdict.waitSeconds > 0) {
      req.log.warn(
        { ip: req.ip, user: knownUser(auth.users, username), via, waitSeconds: verdict.waitSeconds },
        'dashboard sign-in throttled',
      );
      return { waitSeconds: verdict.waitSeconds };
    }
    const principal = verifyCredentials(auth.users, username, password);
    if (!principal) {
      await throttle.failed(username, req.ip);
      req.log.warn({ ip: req.ip, user: knownUser(auth.users, username), via }, 'dashboard sign-in failed');
      return { failed: true };
    }
    if (verdict.addressFailures > 0) await throttle.succeeded(req.ip);
    return { principal };
  };

  app.addHook('onRequest', async (req, reply) => {
    // The matched route's pattern, not the raw URL: `/board/%61dmin/…` and `/board/./admin/…` reach the admin
    // board too, and must be judged as such. Unmatched URLs (404s) fall back to the path.
    const path = req.routeOptions.url ?? pathOf(req.url);
    const basic = parseBasicAuth(req.headers.authorization);
    if (basic) {
      const outcome = await checkCredentials(req, 'basic', basic.username, basic.password);
      if ('waitSeconds' in outcome) {
        return throttled(reply, outcome.waitSeconds).send({
          error: 'too_many_attempts',
          message: `too many failed sign-ins: try again in ${outcome.waitSeconds} s`,
        });
      }
      req.principal = 'principal' in outcome ? outcome.principal : null;
    } else {
      req.principal = (await sessions.read(req.cookies[SESSION_COOKIE])) ?? null;
    }
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
      ? reply
          .code(403)
          .type('text/html')
          .send(forbiddenPage({ principal: req.principal ?? undefined, boardPath: opts.boardPath }))
      : reply.code(403).send({ error: 'forbidden', message: 'read-only role' });

  app.get<{ Querystring: { next?: string } }>('/login', async (req, reply) => {
    if (req.principal) return reply.redirect(safeNext(req.query.next));
    return reply.type('text/html').send(loginPage({ next: safeNext(req.query.next) }));
  });

  // The form is the only form-encoded body the dashboard accepts: its parser lives in this scope alone, so a
  // form post to Bull Board's API (what a cross-site <form> can send) is refused 415 even without the Origin check.
  await app.register(async (scope) => {
    scope.addContentTypeParser(
      'application/x-www-form-urlencoded',
      { parseAs: 'string', bodyLimit: 4096 },
      (_req, body, done) => {
        done(null, Object.fromEntries(new URLSearchParams(body as string)));
      },
    );
    scope.post<{ Body: { username?: string; password?: string; next?: string } }>('/login', async (req, reply) => {
      const next = safeNext(req.body?.next);
      const outcome = await checkCredentials(
        req,
        'form',
        String(req.body?.username ?? ''),
        String(req.body?.password ?? ''),
      );
      if ('waitSeconds' in outcome) {
        return throttled(reply, outcome.waitSeconds)
          .type('text/html')
          .send(
            loginPage({
              next,
              error: `Too many failed attempts. Try again in ${Math.ceil(outcome.waitSeconds / 60)} min.`,
            }),
          );
      }
      if ('failed' in outcome)
        return reply
          .code(401)
          .type('text/html')
          .send(loginPage({ next, error: 'Wrong username or password.' }));
      const { principal } = outcome;
      await sessions.revoke(req.cookies[SESSION_COOKIE]); // a fresh token at every sign-in (no session fixation)
      const token = await sessions.open(principal);
      req.log.info({ user: principal.username, role: principal.role }, 'dashboard login');
      return reply
        .setCookie(SESSION_COOKIE, token, { ...cookieOptions, maxAge: sessions.maxAgeSeconds })
        .redirect(next, 303);
    });
  });

  const logout = async (req: FastifyRequest, reply: FastifyReply) => {
    await sessions.revoke(req.cookies[SESSION_COOKIE]);
    return reply.setCookie(SESSION_COOKIE, '', { ...cookieOptions, maxAge: 0 }).redirect('/login', 303);
  };
  app.post('/logout', logout);
  app.get('/logout', logout);
}

/** The username when it is a configured one; otherwise nothing (it may be a password typed in the wrong field). */
function knownUser(users: readonly DashboardUser[], username: string): string | undefined {
  return users.some((u) => safeEqual(u.username, username)) ? username : undefined;
}

const throttled = (reply: FastifyReply, waitSeconds: number) =>
  reply.code(429).header('retry-after', String(waitSeconds));

function refuseAnonymous(req: FastifyRequest, reply: FastifyReply) {
  if (wantsHtml(req)) return reply.redirect(`/login?next=${encodeURIComponent(req.url)}`);
  return reply.code(401).send({ error: 'unauthorized', message: 'sign in at /login or send HTTP Basic credentials' });
}
