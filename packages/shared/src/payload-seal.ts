/**
 * Import job payloads at rest: AES-256-GCM (node:crypto) under keys named by id, so keys can be rotated.
 * PAYLOAD_KEYS=kid:base64key,...: the first key seals, every key opens (an old key stays listed until the jobs it
 * sealed are gone). The sealed text names its key id; the run id is bound as associated data, so a payload
 * cannot be moved to another run's job unnoticed.
 */
import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';

export interface PayloadKey {
  id: string;
  key: Buffer;
}

const FORMAT = 'v1';
const KEY_ID = /^[A-Za-z0-9_-]{1,32}$/;

/** A payload that cannot be opened: unknown key id, altered or truncated text. */
export class PayloadSealError extends Error {
  constructor(
    message: string,
    readonly unknownKey = false,
  ) {
    super(message);
    this.name = 'PayloadSealError';
  }
}

/** Parses `kid:base64key,...`; throws an Error saying which entry is wrong (the config schema names the setting). */
export function parsePayloadKeys(spec: string): PayloadKey[] {
  const keys = spec
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean)
    .map((entry, i) => {
      const colon = entry.indexOf(':');
      const id = colon > 0 ? entry.slice(0, colon) : '';
      if (!KEY_ID.test(id))
        throw new Error(`entry ${i + 1}: must be kid:base64key with a key id of letters, digits, _ or - (at most 32)`);
      const key = Buffer.from(entry.slice(colon + 1), 'base64');
      if (key.length !== 32)
        throw new Error(`key "${id}": must be 32 bytes in base64 (openssl rand -base64 32), not ${key.length}`);
      return { id, key };
    });
  if (keys.length === 0) throw new Error('must list at least one key');
  if (new Set(keys.map((k) => k.id)).size !== keys.length) throw new Error('lists a key id twice');
  return keys;
}

/** A fresh PAYLOAD_KEYS value: the demo and tests use one, production sets its own. */
export function generatePayloadKeys(id = 'k1'): string {
  return `${id}:${randomBytes(32).toString('base64')}`;
}

export class PayloadSealer {
  private readonly byId: Map<string, Buffer>;
  private readonly current: PayloadKey;

  constructor(keys: readonly PayloadKey[]) {
    if (keys.length === 0) throw new Error('a payload sealer needs a key');
    this.current = keys[0]!;
    this.byId = new Map(keys.map((k) => [k.id, k.key]));
  }

  static fromSpec(spec: string): PayloadSealer {
    return new PayloadSealer(parsePayloadKeys(spec));
  }

  get currentKeyId(): string {
    return this.current.id;
  }

  seal(value: unknown, associatedData: string): string {
    const iv = randomBytes(12);
    const cipher = createCipheriv('aes-256-gcm', this.current.key, iv);
    cipher.setAAD(Buffer.from(associatedData, 'utf8'));
    const body = Buffer.concat([cipher.update(JSON.stringify(value), 'utf8'), cipher.final()]);
    return [
      FORMAT,
      this.current.id,
      iv.toString('base64url'),
      cipher.getAuthTag().toString('base64url'),
      body.toString('base64url'),
    ].join('.');
  }

  open(sealed: string, associatedData: string): unknown {
    const [format, id, iv, tag, body, ...rest] = sealed.split('.');
    if (format !== FORMAT || !id || !iv || !tag || body === undefined || rest.length)
      throw new PayloadSealError('sealed payload is malformed');
    const key = this.byId.get(id);
    if (!key) throw new PayloadSealError(`sealed with key "${id}", which PAYLOAD_KEYS does not list`, true);
    try {
      const decipher = createDecipheriv('aes-256-gcm', key, Buffer.from(iv, 'base64url'));
      decipher.setAAD(Buffer.from(associatedData, 'utf8'));
      decipher.setAuthTag(Buffer.from(tag, 'base64url'));
      const plain = Buffer.concat([decipher.update(Buffer.from(body, 'base64url')), decipher.final()]);
      return JSON.parse(plain.toString('utf8'));
    } catch {
      throw new PayloadSealError('sealed payload does not open: altered, truncated or moved from another run');
    }
  }
}
