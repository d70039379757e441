/**
 * BullMQ job ids: no ':' (its key separator) and not all digits (its own counter ids); '-' separates the parts. Each part is escaped
 * byte by byte (UTF-8, %XX) outside [A-Za-z0-9_.@+=], '-' and '%' included, so different parts never give the
 * same id: a collision would make BullMQ silently ignore the second job.
 */
export function jobId(...parts: string[]): string {
  return parts.map(escapeIdPart).join('-');
}

const SAFE_ID_BYTE = /[A-Za-z0-9_.@+=]/;

function escapeIdPart(part: string): string {
  if (/^[A-Za-z0-9_.@+=]*$/.test(part)) return part;
  let out = '';
  for (const byte of Buffer.from(part, 'utf8')) {
    const c = String.fromCharCode(byte);
    out += byte < 0x80 && SAFE_ID_BYTE.test(c) ? c : `%${byte.toString(16).toUpperCase().padStart(2, '0')}`;
  }
  return out;
}
