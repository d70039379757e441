export * from './import';
export * from './refresh';
export * from './webhooks';
export { startWorker, type RunningWorker } from './start';
export { refreshHandOver } from './hand-over';
export { loadWorkerConfig, workerEnvSchema, type WorkerConfig } from './config';
