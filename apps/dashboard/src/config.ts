/**
 * The dashboard's settings (environment only). It refuses to start without credentials, except for local
 * development explicitly bound to a loopback address with DASHBOARD_DEV_NO_AUTH=true.
 */
import { z } from 'zod';
import { commonEnvSchema, ConfigError, envBool, envInt, envNumber, loadConfig, redisUrlSchema } from '@mk/shared';
import { refreshEnvSchema, refreshOptionsFromConfig, type RefreshOptions } from '@mk/refresh';
import type { DashboardUser } from './auth/credentials';
import type { AuthOptions } from './auth/guard';

/** Unset or empty (compose passes `${VAR:-}` through as ''): both mean "not configured". */
const optional = <T extends z.ZodTypeAny>(schema: T) => z.preprocess((v) => (v === '' ? undefined : v), schema.optional());

export const dashboardEnvSchema = commonEnvSchema.merge(refreshEnvSchema).extend({
  REDIS_URL: redisUrlSchema.default('redis://127.0.0.1:6379'),
  DASHBOARD_PORT: envInt(0).max(65535).default(3000),
  DASHBOARD_HOST: z.string().min(1).default('127.0.0.1'),
  DASHBOARD_ADMIN_USER: optional(z.string()),
  DASHBOARD_ADMIN_PASSWORD: optional(z.string().min(12, 'must be at least 12 characters')),
  DASHBOARD_VIEWER_USER: optional(z.string()),
  DASHBOARD_VIEWER_PASSWORD: optional(z.string().min(12, 'must be at least 12 characters')),
  DASHBOARD_DEV_NO_AUTH: envBool.default(false),
  /** HMAC key of session cookies; every replica needs the same one. Default: random per process. */
  DASHBOARD_SESSION_SECRET: optional(z.string().min(32, 'must be at least 32 characters')),
  DASHBOARD_SESSION_TTL_HOURS: envNumber(0.01).default(12),
  /** Set when the dashboard is served over HTTPS (directly or behind a TLS-terminating proxy). */
  DASHBOARD_COOKIE_SECURE: envBool.default(false),
});
export type DashboardConfig = z.infer<typeof dashboardEnvSchema>;

export interface DashboardSettings {
  config: DashboardConfig;
  auth: AuthOptions;
  /** The refresh registry's options, read like the workers' (TIME_SCALE, REFRESH_*). */
  refresh: RefreshOptions;
}

/** Every setting the dashboard reads, validated at start: a bad one throws a ConfigError naming it. */
export function loadDashboardSettings(env: NodeJS.ProcessEnv = process.env): DashboardSettings {
  const config = loadConfig(dashboardEnvSchema, env);
  return { config, auth: resolveAuth(config), refresh: refreshOptionsFromConfig(config) };
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
    if (viewer) throw new ConfigError('DASHBOARD_ADMIN_USER', 'is missing: a viewer account needs an admin account too');
    if (!config.DASHBOARD_DEV_NO_AUTH) {
      throw new ConfigError(
        'DASHBOARD_ADMIN_USER',
        'and DASHBOARD_ADMIN_PASSWORD are required (for local development only: DASHBOARD_DEV_NO_AUTH=true with DASHBOARD_HOST=127.0.0.1)',
      );
    }
    if (!LOOPBACK.has(config.DASHBOARD_HOST)) {
      throw new ConfigError('DASHBOARD_DEV_NO_AUTH', `is only allowed on a loopback DASHBOARD_HOST (127.0.0.1, ::1, localhost), not "${config.DASHBOARD_HOST}"`);
    }
    return { mode: 'none' };
  }
  if (viewer && viewer.username === admin.username) throw new ConfigError('DASHBOARD_VIEWER_USER', 'must differ from DASHBOARD_ADMIN_USER');
  const users: DashboardUser[] = [{ ...admin, role: 'admin' }];
  if (viewer) users.push({ ...viewer, role: 'viewer' });
  return {
    mode: 'credentials',
    users,
    sessionSecret: config.DASHBOARD_SESSION_SECRET,
    sessionTtlMs: config.DASHBOARD_SESSION_TTL_HOURS * 3600_000,
    cookieSecure: config.DASHBOARD_COOKIE_SECURE,
  };
}
