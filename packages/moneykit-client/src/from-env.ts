/**
 * Builds the client from the parsed `moneykitEnvSchema` settings. Where MONEYKIT_* are unset the caller's
 * fallbacks apply (e.g. the embedded sandbox's URL and credentials), except that a MONEYKIT_BASE_URL of its own
 * is never sent the fallback credentials; the client itself has no default upstream.
 */
import { ConfigError, type moneykitEnvSchema } from '@mk/shared';
import type { z } from 'zod';
import { MoneyKitClient, type MoneyKitClientOptions } from './client';

export type MoneyKitEnv = z.infer<typeof moneykitEnvSchema>;

export type ClientFallbacks = Partial<Pick<MoneyKitClientOptions, 'baseUrl' | 'clientId' | 'clientSecret'>> &
  Omit<MoneyKitClientOptions, 'baseUrl' | 'clientId' | 'clientSecret' | 'importTimeoutMs' | 'timeoutMs'>;

export function createClientFromEnv(env: MoneyKitEnv, fallbacks: ClientFallbacks = {}): MoneyKitClient {
  const { baseUrl: fallbackUrl, clientId: fallbackId, clientSecret: fallbackSecret, ...rest } = fallbacks;
  // A base URL of the caller's own goes with the caller's own credentials, never with the fallback ones.
  const ownUpstream = env.MONEYKIT_BASE_URL !== undefined;
  const baseUrl = env.MONEYKIT_BASE_URL ?? fallbackUrl;
  const clientId = env.MONEYKIT_CLIENT_ID ?? (ownUpstream ? undefined : fallbackId);
  const clientSecret = env.MONEYKIT_CLIENT_SECRET ?? (ownUpstream ? undefined : fallbackSecret);
  if (!baseUrl) throw new ConfigError('MONEYKIT_BASE_URL', 'is missing (and no default upstream was given)');
  if (!clientId)
    throw new ConfigError('MONEYKIT_CLIENT_ID', `is missing${ownUpstream ? ' (MONEYKIT_BASE_URL is set)' : ''}`);
  if (!clientSecret)
    throw new ConfigError('MONEYKIT_CLIENT_SECRET', `is missing${ownUpstream ? ' (MONEYKIT_BASE_URL is set)' : ''}`);
  return new MoneyKitClient({
    ...rest,
    baseUrl,
    clientId,
    clientSecret,
    importTimeoutMs: env.MONEYKIT_IMPORT_TIMEOUT_MS,
    timeoutMs: env.MONEYKIT_TIMEOUT_MS,
  });
}
