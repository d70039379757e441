/** Job payloads: parsed at the worker boundary with these schemas, typed everywhere else. */
import { createHash } from 'node:crypto';
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

/**
 * A top-up of a user's linked connections from a newer dump: per connection, the transactions the producer found not
 * on the link yet (the worker checks again against what landed before it sends any). Sealed like an import job.
 */
export const topupJobSchema = importJobSchema.extend({
  /** Which top-up (one per newer dump): the connections' records say which one last finished. */
  topupId: z.string().min(1),
});
export type TopupJob = z.infer<typeof topupJobSchema>;

/** What anyone may see of an import job (Bull Board, logs): sizes and a hash of the user id, never the data. */
export const importJobSummarySchema = z.object({
  connections: z.number().int().nonnegative(),
  accounts: z.number().int().nonnegative(),
  transactions: z.number().int().nonnegative(),
  /** Size of the sealed payload's plain text. */
  bytes: z.number().int().nonnegative(),
  /** sha256 of the source user id, shortened: tells jobs apart without naming the user. */
  user: z.string(),
});
export type ImportJobSummary = z.infer<typeof importJobSummarySchema>;

/** An import job as stored in Redis: the payload (ImportJob) sealed with PAYLOAD_KEYS, beside its summary. */
export const sealedImportJobSchema = z.object({
  runId: z.string().min(1),
  line: z.number().int().nonnegative().optional(),
  summary: importJobSummarySchema,
  sealed: z.string().min(1),
});
export type SealedImportJob = z.infer<typeof sealedImportJobSchema>;

export const userHash = (sourceUserId: string) =>
  createHash('sha256').update(sourceUserId, 'utf8').digest('hex').slice(0, 16);

/** The job data the producer enqueues: only the worker, holding the key, reads the payload. */
export function sealImportJob(
  sealer: { seal(value: unknown, associatedData: string): string },
  job: ImportJob | TopupJob,
): SealedImportJob {
  const plain = JSON.stringify(job);
  return {
    runId: job.runId,
    ...(job.line !== undefined && { line: job.line }),
    summary: {
      connections: job.connections.length,
      accounts: job.connections.reduce((n, c) => n + c.request.accounts.length, 0),
      transactions: job.connections.reduce((n, c) => n + c.request.transactions.length, 0),
      bytes: Buffer.byteLength(plain, 'utf8'),
      user: userHash(job.sourceUserId),
    },
    sealed: sealer.seal(job, job.runId),
  };
}

/** Refresh jobs are keyed on link and the products due together. */
export const refreshJobSchema = z.object({
  linkId: z.string().min(1),
  products: z.array(productSchema).min(1),
  /** When the earliest of these products became due (epoch ms), for lag metrics. */
  dueAt: z.number(),
});
export type RefreshJob = z.infer<typeof refreshJobSchema>;

/**
 * Due links dispatched together: one BullMQ job, and one claim and one settle script call per registry shard for each
 * group of calls sent at once, carry many links (a job per link costs more Redis than the link's own bookkeeping).
 */
export const refreshBatchJobSchema = z.object({
  links: z.array(refreshJobSchema).min(1),
});
export type RefreshBatchJob = z.infer<typeof refreshBatchJobSchema>;

/**
 * Asks MoneyKit whether a refresh call with an unknown outcome (timed out, dropped, 5xx) arrived at all, once it can no
 * longer arrive: if not, its quota was never spent and the products go back to due instead of waiting a whole window.
 */
export const refreshCheckJobSchema = z.object({
  linkId: z.string().min(1),
  /** The products of the uncertain call. */
  products: z.array(productSchema).min(1),
  /** When the call's claim was taken (Redis clock, epoch ms): an attempt MoneyKit records since then is that call. */
  claimedAt: z.number(),
  /** The claim's record of each product before it (registry encoding), restored for the ones that never arrived. */
  previous: z.string(),
});
export type RefreshCheckJob = z.infer<typeof refreshCheckJobSchema>;
