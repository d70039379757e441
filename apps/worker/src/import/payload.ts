/**
 * The one place an import job's payload is opened: sealed job data (the producer's) is opened with PAYLOAD_KEYS
 * here, inside the worker, and never written back. Plain job data is read as it is: jobs enqueued before payloads
 * were sealed still finish.
 */
import {
  importJobSchema,
  PayloadSealError,
  sealedImportJobSchema,
  type ImportJob,
  type PayloadSealer,
} from '@mk/shared';
import type { ZodError, ZodType, ZodTypeDef } from 'zod';

export type OpenedPayload<P extends ImportJob = ImportJob> =
  | { ok: true; payload: P }
  /** The payload (opened, when sealed) fails its schema: it can never succeed. */
  | { ok: false; invalid: ZodError; plain: unknown }
  /** The payload cannot be opened: a key missing from PAYLOAD_KEYS (`unknownKey`), or altered text. */
  | { ok: false; sealError: PayloadSealError };

export function openImportPayload<P extends ImportJob = ImportJob>(
  sealer: PayloadSealer,
  data: unknown,
  schema: ZodType<P, ZodTypeDef, unknown> = importJobSchema as unknown as ZodType<P, ZodTypeDef, unknown>,
): OpenedPayload<P> {
  const sealed = sealedImportJobSchema.safeParse(data);
  let plain: unknown = data;
  if (sealed.success) {
    try {
      plain = sealer.open(sealed.data.sealed, sealed.data.runId);
    } catch (err) {
      if (err instanceof PayloadSealError) return { ok: false, sealError: err };
      throw err;
    }
  }
  const parsed = schema.safeParse(plain);
  if (!parsed.success) return { ok: false, invalid: parsed.error, plain };
  if (sealed.success && parsed.data.runId !== sealed.data.runId) {
    return { ok: false, sealError: new PayloadSealError('sealed payload belongs to another run') };
  }
  return { ok: true, payload: parsed.data };
}
