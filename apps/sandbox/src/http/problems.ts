/**
 * Every non-2xx answer of the API is an ApiProblem, rendered in one place into MoneyKit's envelope
 * {error_code, error_message, documentation_url} (+ link_error_code, validation_errors).
 */
import { ERROR_CODES } from '@mk/shared';
import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify';
import type { ZodError, ZodIssue } from 'zod';

const DOCS = 'https://docs.moneykit.com/errors';

export interface ValidationError {
  location: Array<string | number>;
  message: string;
  type: string;
}

export class ApiProblem extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly extra: { link_error_code?: string; validation_errors?: ValidationError[] } = {},
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
    this.name = 'ApiProblem';
  }

  body(): Record<string, unknown> {
    return {
      error_code: this.code,
      error_message: this.message,
      documentation_url: `${DOCS}#${this.code}`,
      ...this.extra,
    };
  }
}

/** 429 with Retry-After in whole seconds (at least 1) and the exact wait for fast, time-scaled tests. */
export function rateLimited(retryAfterMs: number, message = 'Rate limit exceeded'): ApiProblem {
  return new ApiProblem(
    429,
    ERROR_CODES.rateLimited,
    message,
    {},
    {
      'retry-after': String(Math.max(1, Math.ceil(retryAfterMs / 1000))),
      'x-sandbox-retry-after-ms': String(Math.max(1, Math.ceil(retryAfterMs))),
    },
  );
}

export const problems = {
  unauthorized: (message = 'Unauthorized') => new ApiProblem(401, ERROR_CODES.unauthorized, message),
  expiredToken: () => new ApiProblem(401, ERROR_CODES.expiredToken, 'Access token expired'),
  linkNotFound: () => new ApiProblem(404, ERROR_CODES.notFound, 'Link not found.'),
  linkDeleted: () => new ApiProblem(410, ERROR_CODES.deleted, 'This link was deleted at some earlier time.'),
  badState: (linkError: string) =>
    new ApiProblem(
      422,
      ERROR_CODES.badState,
      `The link is not in a state that allows this action (link error: ${linkError}).`,
      { link_error_code: linkError },
    ),
  forbidden: (products: string[]) =>
    new ApiProblem(
      403,
      ERROR_CODES.forbidden,
      `The user did not give permission to access this data: ${products.join(', ')}.`,
    ),
  payloadTooLarge: (limit: number) =>
    new ApiProblem(413, ERROR_CODES.payloadTooLarge, `Request body exceeds the limit of ${limit} bytes.`),
  serverError: () => new ApiProblem(500, ERROR_CODES.serverError, 'Internal server error'),
  validation: (errors: ValidationError[]) =>
    new ApiProblem(422, ERROR_CODES.validationFailed, 'Request validation error', { validation_errors: errors }),
};

/** FastAPI-style error types (MoneyKit is a FastAPI service), derived from zod's issue codes. */
function issueType(issue: ZodIssue): string {
  switch (issue.code) {
    case 'invalid_type':
      return issue.received === 'undefined' ? 'missing' : `${issue.expected}_type`;
    case 'too_small':
      return issue.type === 'string' ? 'string_too_short' : issue.type === 'array' ? 'too_short' : 'greater_than_equal';
    case 'too_big':
      return issue.type === 'string' ? 'string_too_long' : issue.type === 'array' ? 'too_long' : 'less_than_equal';
    case 'invalid_enum_value':
    case 'invalid_literal':
      return 'enum';
    case 'invalid_string':
      return 'string_pattern_mismatch';
    case 'unrecognized_keys':
      return 'extra_forbidden';
    default:
      return 'value_error';
  }
}

export function validationProblem(error: ZodError): ApiProblem {
  return problems.validation(
    error.issues.map((i) => ({ location: ['body', ...i.path], message: i.message, type: issueType(i) })),
  );
}

export function sendProblem(reply: FastifyReply, problem: ApiProblem): FastifyReply {
  return reply.code(problem.status).headers(problem.headers).send(problem.body());
}

/** Fastify's own failures (body too large, bad JSON, wrong media type) in the same envelope. */
export function toProblem(error: FastifyError | Error, bodyLimit: number): ApiProblem {
  if (error instanceof ApiProblem) return error;
  const code = (error as FastifyError).code;
  const status = (error as FastifyError).statusCode;
  if (code === 'FST_ERR_CTP_BODY_TOO_LARGE' || status === 413) return problems.payloadTooLarge(bodyLimit);
  if (code === 'FST_ERR_CTP_INVALID_MEDIA_TYPE' || status === 415)
    return new ApiProblem(
      415,
      'api_error.request.unsupported_media_type',
      'Unsupported media type: send application/json',
    );
  if (
    code === 'FST_ERR_CTP_EMPTY_JSON_BODY' ||
    code === 'FST_ERR_CTP_INVALID_JSON_BODY' ||
    error instanceof SyntaxError
  )
    return problems.validation([{ location: ['body'], message: 'JSON decode error', type: 'json_invalid' }]);
  if (status && status >= 400 && status < 500)
    return new ApiProblem(status, 'api_error.request.invalid', error.message);
  return problems.serverError();
}

export function errorHandler(bodyLimit: number) {
  return (error: FastifyError, request: FastifyRequest, reply: FastifyReply) => {
    const problem = toProblem(error, bodyLimit);
    // Answers the sandbox chose (including injected 500s) are not failures of the sandbox.
    if (!(error instanceof ApiProblem) && problem.status >= 500)
      request.log.error({ err: error, route: request.routeOptions.url }, 'sandbox handler failed');
    return sendProblem(reply, problem);
  };
}
