/**
 * The one error type the client throws. It is built from status, codes and a message we compose ourselves:
 * it never holds the axios error, its request config (Authorization header, client secret, body) nor the
 * response body, so logging, JSON.stringify or util.inspect of it cannot leak a secret or PII.
 */
import { inspect } from 'node:util';
import type { ErrorClass, FailureInfo } from '@mk/shared';
import type { EndpointName } from './endpoints';

/**
 * Why a terminal failure can never pass as it is, so that callers decide on this and not on raw statuses:
 * forbidden (403: the user did not grant it), not_found (404), gone (410: deleted), foreign_link (401
 * link_error.unauthorized_access: another app's link), too_large (over 1 MB, refused locally), invalid (any other
 * 4xx: the request itself is wrong), unexpected (a status MoneyKit does not use).
 */
export type TerminalKind = 'forbidden' | 'not_found' | 'gone' | 'foreign_link' | 'too_large' | 'invalid' | 'unexpected';

export interface MoneyKitErrorFields {
  errorClass: ErrorClass;
  endpoint: EndpointName;
  message: string;
  /** HTTP status, when a response came back. */
  status?: number;
  /** MoneyKit's `error_code`, or a client code such as ERROR_CODES.payloadTooLarge / 'client.network.ECONNRESET'. */
  code?: string;
  /** rate_limited only: how long the server asked us to wait. */
  retryAfterMs?: number;
  /** The request may have been committed although we got no success: reconcile before retrying a non-idempotent call. */
  mayHaveTakenEffect: boolean;
  /** needs_reconnect only: the link's own error, e.g. `auth_expired`. */
  linkErrorCode?: string;
  /** terminal only: what kind of terminal failure. */
  terminal?: TerminalKind;
}

export class MoneyKitError extends Error {
  readonly errorClass: ErrorClass;
  readonly endpoint: EndpointName;
  readonly status?: number;
  readonly code?: string;
  readonly retryAfterMs?: number;
  readonly mayHaveTakenEffect: boolean;
  readonly linkErrorCode?: string;
  readonly terminal?: TerminalKind;

  constructor(fields: MoneyKitErrorFields) {
    super(fields.message);
    this.name = 'MoneyKitError';
    this.errorClass = fields.errorClass;
    this.endpoint = fields.endpoint;
    this.mayHaveTakenEffect = fields.mayHaveTakenEffect;
    if (fields.status !== undefined) this.status = fields.status;
    if (fields.code !== undefined) this.code = fields.code;
    if (fields.retryAfterMs !== undefined) this.retryAfterMs = fields.retryAfterMs;
    if (fields.linkErrorCode !== undefined) this.linkErrorCode = fields.linkErrorCode;
    if (fields.terminal !== undefined) this.terminal = fields.terminal;
    if ((fields.errorClass === 'terminal') !== (fields.terminal !== undefined))
      throw new Error('a terminal MoneyKitError names its kind, and only a terminal one');
  }

  /** The plain form stored in the ledger and reports. */
  toFailure(): FailureInfo {
    const failure: FailureInfo = { errorClass: this.errorClass, message: this.message };
    if (this.status !== undefined) failure.status = this.status;
    if (this.code !== undefined) failure.code = this.code;
    return failure;
  }

  toJSON(): Record<string, unknown> {
    return {
      name: this.name,
      errorClass: this.errorClass,
      endpoint: this.endpoint,
      status: this.status,
      code: this.code,
      retryAfterMs: this.retryAfterMs,
      mayHaveTakenEffect: this.mayHaveTakenEffect,
      linkErrorCode: this.linkErrorCode,
      terminal: this.terminal,
      message: this.message,
    };
  }

  [inspect.custom](): string {
    return `${this.stack ?? `${this.name}: ${this.message}`} ${inspect(this.toJSON())}`;
  }
}

export function isMoneyKitError(value: unknown): value is MoneyKitError {
  return value instanceof MoneyKitError;
}
