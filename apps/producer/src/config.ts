import { z } from 'zod';
import { ConfigError, commonEnvSchema, envInt, loadConfig, payloadKeysEnvSchema } from '@mk/shared';

export const producerEnvSchema = commonEnvSchema.merge(payloadKeysEnvSchema).extend({
  /** Import jobs allowed to wait in the queue before the producer pauses: bounds Redis memory. */
  PRODUCER_MAX_WAITING: envInt(1).default(2000),
  /** The configured import rate, for plan estimates. */
  IMPORT_RATE_PER_MIN: envInt(1).default(60),
  /** Where `run` and `retry` write their rejects files unless --rejects names one (--out-dir overrides it). */
  PRODUCER_OUT_DIR: z.string().trim().min(1).default('mk-out'),
});
export type ProducerConfig = z.infer<typeof producerEnvSchema>;

export const loadProducerConfig = (env: NodeJS.ProcessEnv = process.env) => loadConfig(producerEnvSchema, env);

/** Commands that touch the queue need Redis; `plan` does not. */
export function requireRedisUrl(config: ProducerConfig): string {
  if (!config.REDIS_URL) throw new ConfigError('REDIS_URL', 'is required for this command: the redis:// URL of the Redis the workers use');
  return config.REDIS_URL;
}
