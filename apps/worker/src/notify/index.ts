export { startNotifier, backoffMs, type NotifierDeps, type RunningNotifier } from './notifier';
export {
  notifyEnvSchema,
  notifyOptionsFromConfig,
  NOTIFY_SECRET_MIN_LENGTH,
  type NotifyEnv,
  type NotifyOptions,
} from './options';
export { signNotifyBody, verifyNotifySignature, NOTIFY_SIGNATURE_HEADER, NOTIFY_IDEMPOTENCY_HEADER } from './signature';
