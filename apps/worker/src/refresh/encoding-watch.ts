/**
 * Warns when the registry's buckets outgrow Redis's listpack encoding (they then cost about twice the memory): the
 * registry holds more links than REFRESH_EXPECTED_LINKS sized it for. Checked at start and every few minutes.
 */
import type { Logger } from '@mk/shared';
import type { RefreshRegistry } from '@mk/refresh';

export const ENCODING_CHECK_MS = 10 * 60_000;

export interface EncodingWatch {
  /** One check now; resolves to the share of sampled bucket keys not listpack-encoded. */
  check(): Promise<number>;
  stop(): void;
}

export function watchEncoding(registry: RefreshRegistry, logger: Logger, everyMs = ENCODING_CHECK_MS): EncodingWatch {
  async function check(): Promise<number> {
    const health = await registry.encodingHealth();
    if (health.notListpack > 0)
      logger.warn(
        { ...health, buckets: registry.buckets },
        `refresh registry: ${(health.share * 100).toFixed(1)}% of sampled bucket keys are no longer listpack-encoded ` +
          '(about twice the memory per link): it holds more links than REFRESH_EXPECTED_LINKS sized it for ' +
          '(see infra/OPERATIONS.md, "Sizing Redis")',
      );
    return health.share;
  }
  const quiet = (err: unknown) => logger.debug({ err }, 'refresh registry encoding check failed');
  check().catch(quiet);
  const timer = setInterval(() => void check().catch(quiet), everyMs);
  timer.unref();
  return { check, stop: () => clearInterval(timer) };
}
