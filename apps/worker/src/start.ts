/** Starts the parts of a worker process its roles name; `close()` stops them all, in-flight work first. */
import { PayloadSealer, requirePayloadKeys, type Logger, type Redis } from '@mk/shared';
import { MigrationLedger } from '@mk/ledger';
import type { WorkerSettings } from './config';
import { createMoneyKitClient } from './moneykit';
import { importApiFromClient, startImportWorker, type LinkSink } from './import';
import { RefreshRegistry } from '@mk/refresh';
import { startRefresh } from './refresh';
import { jwksFromClient, startWebhookReceiver } from './webhooks';
import { ledgerLinkEvents } from './link-events';
import { startNotifier } from './notify';
import { refreshHandOver } from './hand-over';

export interface RunningWorker {
  registry: RefreshRegistry;
  webhookUrl?: string;
  close(): Promise<void>;
}

export async function startWorker(
  settings: WorkerSettings,
  redis: Redis,
  logger: Logger,
  onFatal?: (reason: string, err: Error) => void,
): Promise<RunningWorker> {
  const { config, refresh: refreshOptions } = settings;
  const client = createMoneyKitClient(config, logger);
  const registry = await RefreshRegistry.open(redis, config.REDIS_PREFIX, refreshOptions);
  // With NOTIFY_URL, every ledger change the team's backend hears of writes its event in the same step.
  const ledger = new MigrationLedger(redis, config.REDIS_PREFIX, { outbox: settings.notify !== undefined });
  const closers: (() => Promise<void>)[] = [];
  let webhookUrl: string | undefined;

  const closeAll = async () => {
    await Promise.all(closers.map((c) => c()));
    client.close();
  };

  try {
    // The receiver first: a WEBHOOK_PORT already taken fails the start before any job is taken.
    const webhookOptions = settings.webhooks;
    if (webhookOptions) {
      const receiver = await startWebhookReceiver({
        ...webhookOptions,
        redis,
        prefix: config.REDIS_PREFIX,
        registry,
        fetchJwks: jwksFromClient(client),
        links: ledgerLinkEvents(ledger),
        logger,
      }).catch((err: Error) => {
        throw new Error(
          `WEBHOOK_PORT ${webhookOptions.port} cannot be listened on (${webhookOptions.host}): ${err.message}`,
        );
      });
      webhookUrl = receiver.url;
      closers.push(() => receiver.close());
    }

    if (config.WORKER_ROLES.includes('import')) {
      const sink: LinkSink = refreshHandOver(registry, ledger);
      const imports = startImportWorker({
        redis,
        prefix: config.REDIS_PREFIX,
        api: importApiFromClient(client),
        ledger,
        sink,
        logger,
        ...settings.import,
        sealer: new PayloadSealer(requirePayloadKeys(config)),
        failedRetentionMs: config.PAYLOAD_FAILED_RETENTION_HOURS * 3_600_000,
        ...(onFatal && { onFatal }),
      });
      closers.push(() => imports.close());
    }

    if (config.WORKER_ROLES.includes('refresh')) {
      const refresh = await startRefresh({
        ...refreshOptions,
        redisUrl: settings.redis.target,
        prefix: config.REDIS_PREFIX,
        client,
        logger,
        lockDurationMs: config.REFRESH_LOCK_MS,
        stalledIntervalMs: config.REFRESH_LOCK_MS,
        links: ledgerLinkEvents(ledger),
        ...(onFatal && { onFatal }),
      });
      closers.push(() => refresh.close());
    }

    if (settings.notify) {
      const notifier = startNotifier({ redis, ledger, prefix: config.REDIS_PREFIX, options: settings.notify, logger });
      closers.push(() => notifier.close());
    }
  } catch (err) {
    await closeAll();
    throw err;
  }

  let closing: Promise<void> | undefined;
  return {
    registry,
    ...(webhookUrl && { webhookUrl }),
    close: () => (closing ??= closeAll()),
  };
}
