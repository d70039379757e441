/**
 * MoneyKit API shapes (API version 2023-02-18), as zod schemas: validated at the HTTP boundary,
 * trusted inside. Source: packages/testkit/contract/moneykit-contract.openapi.json.
 */
import { z } from 'zod';
import { productSchema } from './products';

export const MONEYKIT_API_VERSION = '2023-02-18';
export const MAX_REQUEST_BYTES = 1_000_000; // "1MB": measured on the exact serialized body

export const PROVIDERS = ['moneykit', 'finicity', 'plaid', 'yodlee', 'mx', 'akoya'] as const;
export const providerSchema = z.enum(PROVIDERS);
export type Provider = z.infer<typeof providerSchema>;

export const LINK_STATES = ['connecting', 'awaiting_token_exchange', 'connected', 'deleted', 'error'] as const;
export const linkStateSchema = z.enum(LINK_STATES);
export type LinkState = z.infer<typeof linkStateSchema>;

export const LINK_ERRORS = [
  'system_error',
  'provider_error',
  'institution_error',
  'user_error',
  'auth_expired',
  'incomplete',
  'no_accounts',
  'user_setup_required',
  'invalid_credentials',
  'user_oauth_denied',
  'user_input_incorrect',
] as const;
export const linkErrorSchema = z.enum(LINK_ERRORS);
export type LinkErrorCode = z.infer<typeof linkErrorSchema>;

export const PRODUCT_ERRORS = [
  'rate_limit',
  'auth_expired',
  'not_supported',
  'timeout',
  'unknown',
  'no_accounts',
  'institution_error',
  'no_permission',
] as const;
export const PRODUCT_STATES = ['pending', 'in_progress', 'completed', 'failed'] as const;

const isoDateTime = z.string().min(10);

export const customerUserSchema = z.object({
  id: z.string().min(4).max(150),
  email: z.object({ address: z.string().min(4).max(254), customer_verified_at: isoDateTime.optional() }).optional(),
  phone: z
    .object({
      number: z.string().min(4).max(30),
      country: z.enum(['US', 'GB', 'CA']).optional(),
      customer_verified_at: isoDateTime.optional(),
    })
    .optional(),
});
export type CustomerUser = z.infer<typeof customerUserSchema>;

export const accountBalancesSchema = z.object({
  currency: z.string().optional(),
  available: z.number().optional(),
  current: z.number().optional(),
  limit: z.number().optional(),
  balance_date: isoDateTime.optional(),
});

export const importAccountSchema = z.object({
  account_id: z.string().min(1),
  name: z.string(),
  nickname: z.string().optional(),
  type: z.string(),
  mask: z.string().optional(),
  balances: accountBalancesSchema,
});
export type ImportAccount = z.infer<typeof importAccountSchema>;

/** A decimal string: no float ever touches an amount. */
export const decimalStringSchema = z
  .string()
  .regex(/^-?\d+(\.\d+)?$/, 'must be a plain decimal string such as "-12.34"');

export const importTransactionSchema = z.object({
  account_id: z.string().min(1),
  transaction_id: z.string().optional(),
  amount: decimalStringSchema,
  date: z
    .string()
    .regex(/^\d{4}-\d{2}-\d{2}([T ][\d:.]+(Z|[+-]\d{2}:?\d{2})?)?$/, 'must be YYYY-MM-DD or an ISO-8601 date-time'),
  description: z.string().optional(),
  type: z.string().optional(),
});
export type ImportTransaction = z.infer<typeof importTransactionSchema>;

export const importLinkRequestSchema = z
  .object({
    customer_user: customerUserSchema,
    provider: providerSchema.optional(),
    institution_id: z.string().min(1),
    accounts: z.array(importAccountSchema).min(1),
    transactions: z.array(importTransactionSchema),
  })
  .superRefine((req, ctx) => {
    const ids = new Set<string>();
    req.accounts.forEach((a, i) => {
      if (ids.has(a.account_id))
        ctx.addIssue({
          code: 'custom',
          path: ['accounts', i, 'account_id'],
          message: `duplicate account_id "${a.account_id}"`,
        });
      ids.add(a.account_id);
    });
    req.transactions.forEach((t, i) => {
      if (!ids.has(t.account_id))
        ctx.addIssue({
          code: 'custom',
          path: ['transactions', i, 'account_id'],
          message: 'does not match any account of the request',
        });
    });
  });
export type ImportLinkRequest = z.infer<typeof importLinkRequestSchema>;

export const importTransactionsRequestSchema = z.object({ transactions: z.array(importTransactionSchema) });
export type ImportTransactionsRequest = z.infer<typeof importTransactionsRequestSchema>;

export const refreshProductsRequestSchema = z.object({ products: z.array(productSchema).min(1) });
export type RefreshProductsRequest = z.infer<typeof refreshProductsRequestSchema>;

export const linkProductSchema = z
  .object({
    refreshed_at: z.string().nullish(),
    last_attempted_at: z.string().nullish(),
    error_code: z.string().nullish(),
    error_message: z.string().nullish(),
    unavailable: z.string().nullish(),
  })
  .passthrough();

export const linkSchema = z
  .object({
    link_id: z.string(),
    institution_id: z.string(),
    institution_name: z.string(),
    institution_avatar: z.string().nullish(),
    state: linkStateSchema,
    error_code: z.string().nullish(),
    provider: z.string().nullish(),
    link_tags: z.array(z.string()).nullish(),
    webhook: z.string().nullish(),
    products: z.record(z.string(), linkProductSchema),
    available_products: z.array(z.string()),
  })
  .passthrough();
export type Link = z.infer<typeof linkSchema>;

export const userLinksResponseSchema = z.object({ links: z.record(z.string(), linkSchema) });
export type UserLinksResponse = z.infer<typeof userLinksResponseSchema>;

export const accessTokenResponseSchema = z.object({
  access_token: z.string().min(1),
  token_type: z.string(),
  expires_in: z.number().int().positive(),
});
export type AccessTokenResponse = z.infer<typeof accessTokenResponseSchema>;

export const apiErrorBodySchema = z
  .object({
    error_code: z.string(),
    error_message: z.string().optional(),
    documentation_url: z.string().nullish(),
    link_error_code: z.string().optional(),
    validation_errors: z
      .array(z.object({ location: z.array(z.union([z.string(), z.number()])), message: z.string(), type: z.string() }))
      .optional(),
  })
  .passthrough();
export type ApiErrorBody = z.infer<typeof apiErrorBodySchema>;

/** The error codes MoneyKit answers with that this service acts on. */
export const ERROR_CODES = {
  expiredToken: 'api_error.auth.expired_access_token',
  unauthorized: 'api_error.auth.unauthorized',
  unauthorizedLinkAccess: 'link_error.unauthorized_access',
  rateLimited: 'api_error.rate_limit_exceeded',
  validationFailed: 'api_error.request.validation_failed',
  payloadTooLarge: 'api_error.request.payload_too_large', // inferred: the real status/code of an over-size body is undocumented
  forbidden: 'link_error.forbidden_action',
  notFound: 'link_error.not_found',
  deleted: 'link_error.deleted',
  badState: 'link_error.bad_state',
  serverError: 'api_error.internal_server_error',
} as const;

export const WEBHOOK_EVENTS = ['link.state_changed', 'link.product_refresh', 'transactions.updates_available'] as const;

const webhookCommon = {
  webhook_idempotency_key: z.string().min(1),
  webhook_timestamp: z.string(),
  webhook_major_version: z.number().optional(),
  webhook_minor_version: z.number().optional(),
  link_id: z.string().min(1),
  link_tags: z.array(z.string()).default([]),
};
export const linkStateChangedWebhookSchema = z.object({
  ...webhookCommon,
  webhook_event: z.literal('link.state_changed'),
  state: linkStateSchema,
  error: z.string().nullish(),
  error_message: z.string().nullish(),
});
export const productRefreshWebhookSchema = z.object({
  ...webhookCommon,
  webhook_event: z.literal('link.product_refresh'),
  product: productSchema,
  state: z.enum(PRODUCT_STATES),
  state_changed_at: z.string(),
  error_message: z.string().nullish(),
});
export const transactionsUpdatesWebhookSchema = z
  .object({ ...webhookCommon, webhook_event: z.literal('transactions.updates_available') })
  .passthrough();
export const webhookBodySchema = z.discriminatedUnion('webhook_event', [
  linkStateChangedWebhookSchema,
  productRefreshWebhookSchema,
  transactionsUpdatesWebhookSchema,
]);
export type WebhookBody = z.infer<typeof webhookBodySchema>;
export const WEBHOOK_SIGNATURE_HEADER = 'moneykit-signature';

/**
 * MoneyKit's read limits (rate-limits page; every 429 carries Retry-After): what the sandbox enforces by default and
 * what `verify` paces itself by. `GET /links/{id}/transactions` and `GET /users/{id}/links` have none documented.
 */
export const MONEYKIT_READ_LIMITS = {
  /** GET /links/{id}/accounts, per link. */
  accountsPerLinkPerMin: 4,
  /** GET /links/{id}, per link and per app. */
  linkPerLinkPerMin: 15,
  linkPerAppPerMin: 1000,
} as const;
