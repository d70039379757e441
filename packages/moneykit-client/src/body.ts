/**
 * MoneyKit refuses bodies over 1 MB. The size is measured on the exact string that is sent, so a caller that
 * packs transactions up to the limit can trust the measure: the client sends `json` as is, never re-serializes.
 */
export interface SerializedBody {
  json: string;
  /** UTF-8 byte length of `json`: what goes on the wire as Content-Length. */
  bytes: number;
}

export function serializeBody(body: unknown): SerializedBody {
  const json = JSON.stringify(body);
  if (json === undefined) throw new TypeError('request body is not JSON-serializable');
  return { json, bytes: Buffer.byteLength(json, 'utf8') };
}
