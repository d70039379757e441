export {
  MoneyKitClient,
  jwksSchema,
  linkAccountsSchema,
  linkTransactionsPageSchema,
  DEFAULT_IMPORT_TIMEOUT_MS,
  DEFAULT_TIMEOUT_MS,
  DEFAULT_MAX_SOCKETS,
} from './client';
export type { MoneyKitClientOptions, ResponseInfo, Jwks, LinkAccounts, LinkTransactionsPage } from './client';
export { MoneyKitError, isMoneyKitError } from './errors';
export type { MoneyKitErrorFields, TerminalKind } from './errors';
export { serializeBody } from './body';
export type { SerializedBody } from './body';
export {
  classifyHttpFailure,
  classifyInvalidSuccess,
  classifyTransportFailure,
  payloadTooLarge,
  sendWindowPassed,
  isExpiredTokenError,
  isTimeoutError,
  isRefusedTokenError,
  CLIENT_CODES,
} from './classify';
export {
  parseRetryAfter,
  retryAfterMsFromHeaders,
  DEFAULT_RETRY_AFTER_MS,
  SANDBOX_RETRY_AFTER_MS_HEADER,
} from './retry-after';
export { ENDPOINTS, endpointPath } from './endpoints';
export type { EndpointName } from './endpoints';
export { renewalMarginMs } from './token-cache';
export { createClientFromEnv } from './from-env';
export type { MoneyKitEnv, ClientFallbacks } from './from-env';
export { MAX_REQUEST_BYTES } from '@mk/shared';
