/**
 * Webhook signing as MoneyKit does it: `MoneyKit-Signature` is an ES256 JWT whose `kid` is in the JWKS
 * served at /.well-known/jwks.json, with claims iss, iat and request_body_sha256 (hex SHA-256 of the raw body).
 */
import { createHash, randomUUID } from 'node:crypto';
import { SignJWT, exportJWK, generateKeyPair, type JWK, type KeyLike } from 'jose';

interface SigningKey {
  kid: string;
  privateKey: KeyLike;
  publicJwk: JWK;
}

/** How many keys the JWKS keeps after rotations: the current one and the one before it. */
const KEYS_SERVED = 2;

export class WebhookSigner {
  private keys: SigningKey[] = [];

  static async create(): Promise<WebhookSigner> {
    const signer = new WebhookSigner();
    await signer.rotate();
    return signer;
  }

  get currentKid(): string {
    return this.keys[0]!.kid;
  }

  /** A new key signs from now on; the previous one stays in the JWKS for deliveries already signed. */
  async rotate(): Promise<string> {
    const { publicKey, privateKey } = await generateKeyPair('ES256', { extractable: true });
    const kid = randomUUID();
    const publicJwk = { ...(await exportJWK(publicKey)), kid, alg: 'ES256', use: 'sig' };
    this.keys = [{ kid, privateKey, publicJwk }, ...this.keys].slice(0, KEYS_SERVED);
    return kid;
  }

  jwks(): { keys: JWK[] } {
    return { keys: this.keys.map((k) => k.publicJwk) };
  }

  async sign(rawBody: string): Promise<string> {
    const key = this.keys[0]!;
    const request_body_sha256 = createHash('sha256').update(rawBody, 'utf8').digest('hex');
    return new SignJWT({ request_body_sha256 })
      .setProtectedHeader({ alg: 'ES256', kid: key.kid, typ: 'JWT' })
      .setIssuer('moneykit')
      .setIssuedAt()
      .sign(key.privateKey);
  }
}
