/**
 * The dashboard's settings (environment only). It refuses to start without credentials, except for local
 * development explicitly bound to a loopback address with DASHBOARD_DEV_NO_AUTH=true.
 */
import { z } from 'zod';
import {
  commonEnvSchema,
  ConfigError,
  envBool,
  envInt,
  envNumber,
  loadConfig,
  redisTargetOf,
  requireClusterPrefix,
  type RedisTarget,
} from '@mk/shared';
import { refreshEnvSchema, refreshOptionsFromConfig, type RefreshOptions } from '@mk/refresh';
import type { DashboardUser } from './auth/credentials';
import { DEFAULT_SESSION_TTL_HOURS, DEFAULT_THROTTLE, type AuthOptions } from './auth/guard';

/** Unset or empty (compose passes `${VAR:-}` through as ''): both mean "not configured". */
const optional = <T extends z.ZodTypeAny>(schema: T) =>
  z.preprocess((v) => (v === '' ? undefined : v), schema.optional());

/** Trimmed; printable, no ':' (HTTP Basic splits on it) and not blank. */
const username = z
  .string()
  .transform((s) => s.trim())
  .pipe(
    z
      .string()
      .min(1, 'must not be blank')
      .max(64, 'must be at most 64 characters')
      .regex(/^[^\s:\p{Cc}][^:\p{Cc}]*$/u, 'must be printable and contain no ":"'),
  );

/**
 * Fastify's trustProxy: `false` (default: the TCP peer is the client), `true` (trust every proxy: only when nothing
 * but the proxy can reach the port), or comma-separated proxy addresses/CIDRs (the safe choice behind a proxy).
 */
const trustProxy = z
  .string()
  .trim()
  .default('false')
  .transform((v, ctx): boolean | string[] => {
    if (v === 'false' || v === '') return false;
    if (v === 'true') return true;
    const list = v
      .split(',')
      .map((s) => s.trim())
      .filter(Boolean);
    if (list.every((a) => /^[0-9a-fA-F.:/]+$/.test(a))) return list;
    ctx.addIssue({ code: 'custom', message: 'must be false, true or comma-separated proxy addresses/CIDRs' });
    return z.NEVER;
  });

/** Where the dashboard looks when neither REDIS_URL nor REDIS_CLUSTER_NODES is set. */
export const DEFAULT_DASHBOARD_REDIS_URL = 'redis://127.0.0.1:6379';

export const dashboardEnvSchema = commonEnvSchema.merge(refreshEnvSchema).extend({
  DASHBOARD_PORT: envInt(0).max(65535).default(3000),
  DASHBOARD_HOST: z.string().min(1).default('127.0.0.1'),
  DASHBOARD_ADMIN_USER: optional(username),
  DASHBOARD_ADMIN_PASSWORD: optional(z.string().min(12, 'must be at least 12 characters')),
  DASHBOARD_VIEWER_USER: optional(username),
  DASHBOARD_VIEWER_PASSWORD: optional(z.string().min(12, 'must be at least 12 characters')),
  DASHBOARD_DEV_NO_AUTH: envBool.default(false),
  /** Sessions live in Redis: a replica, a restart and logout all see the same ones. */
  DASHBOARD_SESSION_TTL_HOURS: envNumber(0.01).default(DEFAULT_SESSION_TTL_HOURS),
  /** Set when the dashboard is served over HTTPS (directly or behind a TLS-terminating proxy): Secure cookie, HSTS. */
  DASHBOARD_COOKIE_SECURE: envBool.default(false),
  DASHBOARD_TRUST_PROXY: trustProxy,
  /** Failed sign-ins (form or Basic) from one address in the window before that address is refused. */
  DASHBOARD_LOGIN_MAX_FAILURES_PER_ADDRESS: envInt(1).default(DEFAULT_THROTTLE.perAddress),
  /** Failed sign-ins at one username, from anywhere, before addresses that failed are refused for it. */
  DASHBOARD_LOGIN_MAX_FAILURES_PER_USER: envInt(1).default(DEFAULT_THROTTLE.perUser),
  DASHBOARD_LOGIN_WINDOW_SECONDS: envInt(1).default(DEFAULT_THROTTLE.windowSeconds),
});
export type DashboardConfig = z.infer<typeof dashboardEnvSchema>;

export interface DashboardSettings {
  config: DashboardConfig;
  /** REDIS_URL (default DEFAULT_DASHBOARD_REDIS_URL) or the cluster's seeds (REDIS_CLUSTER_NODES). */
  redis: RedisTarget;
  auth: AuthOptions;
  /** The refresh registry's options, read like the workers' (TIME_SCALE, REFRESH_*). */
  refresh: RefreshOptions;
}

/** Every setting the dashboard reads, validated at start: a bad one throws a ConfigError naming it. */
export function loadDashboardSettings(env: NodeJS.ProcessEnv = process.env): DashboardSettings {
  const config = loadConfig(dashboardEnvSchema, env);
  const redis = redisTargetOf(config) ?? DEFAULT_DASHBOARD_REDIS_URL;
  if (typeof redis !== 'string') requireClusterPrefix(config.REDIS_PREFIX);
  return { config, redis, auth: resolveAuth(config), refresh: refreshOptionsFromConfig(config) };
}

const LOOPBACK = new Set(['127.0.0.1', 'localhost', '::1']);

function pair(config: DashboardConfig, role: 'ADMIN' | 'VIEWER'): { username: string; password: string } | undefined {
  const username = config[`DASHBOARD_${role}_USER`];
  const password = config[`DASHBOARD_${role}_PASSWORD`];
  if (username && password) return { username, password };
  if (username) throw new ConfigError(`DASHBOARD_${role}_PASSWORD`, `is missing (DASHBOARD_${role}_USER is set)`);
  if (password) throw new ConfigError(`DASHBOARD_${role}_USER`, `is missing (DASHBOARD_${role}_PASSWORD is set)`);
  return undefined;
}

/** Who may sign in; throws a ConfigError naming the setting when the dashboard would be open. */
export function resolveAuth(config: DashboardConfig): AuthOptions {
  const admin = pair(config, 'ADMIN');
  const viewer = pair(config, 'VIEWER');
  if (!admin) {
    if (viewer)
      throw new ConfigError('DASHBOARD_ADMIN_USER', 'is missing: a viewer account needs an admin account too');
    if (!config.DASHBOARD_DEV_NO_AUTH) {
      throw new ConfigError(
        'DASHBOARD_ADMIN_USER',
        'and DASHBOARD_ADMIN_PASSWORD are required (for local development only: DASHBOARD_DEV_NO_AUTH=true with DASHBOARD_HOST=127.0.0.1)',
      );
    }
    if (!LOOPBACK.has(config.DASHBOARD_HOST)) {
      throw new ConfigError(
        'DASHBOARD_DEV_NO_AUTH',
        `is only allowed on a loopback DASHBOARD_HOST (127.0.0.1, ::1, localhost), not "${config.DASHBOARD_HOST}"`,
      );
    }
    return { mode: 'none' };
  }
  if (viewer && viewer.username === admin.username)
    throw new ConfigError('DASHBOARD_VIEWER_USER', 'must differ from DASHBOARD_ADMIN_USER');
  const users: DashboardUser[] = [{ ...admin, role: 'admin' }];
  if (viewer) users.push({ ...viewer, role: 'viewer' });
  return {
    mode: 'credentials',
    users,
    sessionTtlMs: config.DASHBOARD_SESSION_TTL_HOURS * 3600_000,
    cookieSecure: config.DASHBOARD_COOKIE_SECURE,
    throttle: {
      perAddress: config.DASHBOARD_LOGIN_MAX_FAILURES_PER_ADDRESS,
      perUser: config.DASHBOARD_LOGIN_MAX_FAILURES_PER_USER,
      windowSeconds: config.DASHBOARD_LOGIN_WINDOW_SECONDS,
    },
  };
}
