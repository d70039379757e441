/** Job payloads: parsed at the worker boundary with these schemas, typed everywhere else. */
import { z } from 'zod';
import { importLinkRequestSchema } from '../moneykit';
import { productSchema } from '../products';

export const importConnectionSchema = z.object({
  /** Stable id of the source connection (Plaid item, MX member, Yodlee providerAccount, ...). */
  connectionId: z.string().min(1),
  request: importLinkRequestSchema,
});
export type ImportConnection = z.infer<typeof importConnectionSchema>;

/** One job per source user: each of the user's connections becomes one link. */
export const importJobSchema = z.object({
  runId: z.string().min(1),
  sourceUserId: z.string().min(1),
  /** Line of the dump the user came from (for reports). */
  line: z.number().int().nonnegative().optional(),
  connections: z.array(importConnectionSchema).min(1),
});
export type ImportJob = z.infer<typeof importJobSchema>;

/** Refresh jobs are keyed on link and the products due together. */
export const refreshJobSchema = z.object({
  linkId: z.string().min(1),
  products: z.array(productSchema).min(1),
  /** When the earliest of these products became due (epoch ms), for lag metrics. */
  dueAt: z.number(),
});
export type RefreshJob = z.infer<typeof refreshJobSchema>;
