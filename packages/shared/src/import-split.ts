/**
 * The 1 MB rule: a connection whose import body is over MAX_REQUEST_BYTES goes as one import carrying the
 * accounts and the first transactions that fit, then `/links/{id}/import/transactions` batches for the rest.
 * Sizes are exact: JSON.stringify of an array is '[' + items joined by ',' + ']', so each transaction's own
 * serialized length plus one comma is what it adds to the body.
 */
import { MAX_REQUEST_BYTES, type ImportLinkRequest, type ImportTransaction } from './moneykit';

export interface ImportPlan {
  /** The `/links/import` body: all accounts and the leading transactions that fit. */
  importBody: ImportLinkRequest;
  /** Bytes of `importBody` serialized. */
  importBytes: number;
  /** Each a `/links/{id}/import/transactions` body's transactions, in order. */
  batches: ImportTransaction[][];
  batchBytes: number[];
}

export class ImportTooLargeError extends Error {}

const byteLength = (value: unknown) => Buffer.byteLength(JSON.stringify(value), 'utf8');
const EMPTY_BATCH_BYTES = byteLength({ transactions: [] });

export function planImport(request: ImportLinkRequest, maxBytes: number = MAX_REQUEST_BYTES): ImportPlan {
  const { transactions } = request;
  const sizes = transactions.map((t) => byteLength(t));
  const head: ImportLinkRequest = { ...request, transactions: [] };
  let importBytes = byteLength(head);
  if (importBytes > maxBytes)
    throw new ImportTooLargeError(`accounts alone serialize to ${importBytes} bytes, over the ${maxBytes}-byte limit`);

  let i = 0;
  for (; i < transactions.length; i++) {
    const added = sizes[i]! + (i > 0 ? 1 : 0);
    if (importBytes + added > maxBytes) break;
    importBytes += added;
  }
  head.transactions = transactions.slice(0, i);

  const { batches, batchBytes } = splitBatches(transactions.slice(i), sizes.slice(i), maxBytes, i);
  return { importBody: head, importBytes, batches, batchBytes };
}

/** `/links/{id}/import/transactions` bodies of at most `maxBytes` for these transactions, in order (a top-up's). */
export function transactionBatches(
  transactions: ImportTransaction[],
  maxBytes: number = MAX_REQUEST_BYTES,
): { batches: ImportTransaction[][]; batchBytes: number[] } {
  return splitBatches(
    transactions,
    transactions.map((t) => byteLength(t)),
    maxBytes,
    0,
  );
}

/** Greedy split: each body takes transactions while it stays within `maxBytes` (`offset`: index of the first, for messages). */
function splitBatches(
  transactions: ImportTransaction[],
  sizes: number[],
  maxBytes: number,
  offset: number,
): { batches: ImportTransaction[][]; batchBytes: number[] } {
  const batches: ImportTransaction[][] = [];
  const batchBytes: number[] = [];
  let i = 0;
  while (i < transactions.length) {
    let bytes = EMPTY_BATCH_BYTES;
    const start = i;
    for (; i < transactions.length; i++) {
      const added = sizes[i]! + (i > start ? 1 : 0);
      if (bytes + added > maxBytes) break;
      bytes += added;
    }
    if (i === start)
      throw new ImportTooLargeError(
        `transaction ${start + offset} alone serializes to ${sizes[start]} bytes, over the ${maxBytes}-byte limit`,
      );
    batches.push(transactions.slice(start, i));
    batchBytes.push(bytes);
  }
  return { batches, batchBytes };
}
