export * from './import';
export * from './refresh';
export * from './webhooks';
export { startWorker, type RunningWorker } from './start';
export { refreshHandOver } from './hand-over';
export {
  importTimings,
  loadWorkerConfig,
  loadWorkerSettings,
  workerEnvSchema,
  type WorkerConfig,
  type WorkerSettings,
} from './config';
export * from './credentials-pause';
export * from './notify';
export { ledgerLinkEvents, type LinkEvents } from './link-events';
