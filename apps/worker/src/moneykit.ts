/** The worker's MoneyKit client: the sandbox unless MoneyKit settings are given; every call counted in /metrics. */
import { MoneyKitClient } from '@mk/moneykit-client';
import type { Logger } from '@mk/shared';
import { recordApiCall } from '@mk/telemetry';
import { SANDBOX_DEFAULTS, type WorkerConfig } from './config';

export function createMoneyKitClient(config: WorkerConfig, logger: Logger): MoneyKitClient {
  const baseUrl = config.MONEYKIT_BASE_URL ?? SANDBOX_DEFAULTS.baseUrl;
  if (!config.MONEYKIT_BASE_URL) logger.warn({ baseUrl }, 'MONEYKIT_BASE_URL is not set: talking to the sandbox');
  return new MoneyKitClient({
    baseUrl,
    clientId: config.MONEYKIT_CLIENT_ID ?? SANDBOX_DEFAULTS.clientId,
    clientSecret: config.MONEYKIT_CLIENT_SECRET ?? SANDBOX_DEFAULTS.clientSecret,
    importTimeoutMs: config.MONEYKIT_IMPORT_TIMEOUT_MS,
    timeoutMs: config.MONEYKIT_TIMEOUT_MS,
    logger,
    onResponse: ({ endpoint, status, durationMs, errorClass }) =>
      recordApiCall({
        endpoint,
        durationMs,
        ...(status !== undefined && { status }),
        ...(errorClass && { errorClass }),
      }),
  });
}
