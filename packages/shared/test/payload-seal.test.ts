import {
  ConfigError,
  generatePayloadKeys,
  loadConfig,
  parsePayloadKeys,
  payloadKeysEnvSchema,
  PayloadSealer,
  PayloadSealError,
  requirePayloadKeys,
} from '../src';

describe('import payload sealing', () => {
  const payload = { runId: 'r1', sourceUserId: 'u1', connections: [{ email: 'jane@example.com' }] };

  it('seals with AES-256-GCM: nothing readable, fresh IV each time, opens only with the same run id', () => {
    const sealer = PayloadSealer.fromSpec(generatePayloadKeys('k1'));
    const a = sealer.seal(payload, 'r1');
    const b = sealer.seal(payload, 'r1');
    expect(a).not.toEqual(b);
    expect(a).toMatch(/^v1\.k1\./);
    expect(a).not.toContain('jane');
    expect(Buffer.from(a.split('.')[4]!, 'base64url').toString('latin1')).not.toContain('jane');
    expect(sealer.open(a, 'r1')).toEqual(payload);
    expect(() => sealer.open(a, 'r2')).toThrow(PayloadSealError);
    const parts = a.split('.');
    const flipped = Buffer.from(parts[4]!, 'base64url');
    flipped[0] = flipped[0]! ^ 1;
    parts[4] = flipped.toString('base64url');
    expect(() => sealer.open(parts.join('.'), 'r1')).toThrow(/altered/);
    expect(() => sealer.open('garbage', 'r1')).toThrow(/malformed/);
  });

  it('rotates: the first key seals, every listed key opens, an unknown key id says so', () => {
    const k1 = generatePayloadKeys('k1');
    const k2 = generatePayloadKeys('k2');
    const old = PayloadSealer.fromSpec(k1).seal(payload, 'r1');
    const rotated = PayloadSealer.fromSpec(`${k2},${k1}`);
    expect(rotated.open(old, 'r1')).toEqual(payload);
    expect(rotated.seal(payload, 'r1')).toMatch(/^v1\.k2\./);
    try {
      PayloadSealer.fromSpec(k2).open(old, 'r1');
      throw new Error('expected a PayloadSealError');
    } catch (err) {
      expect(err).toBeInstanceOf(PayloadSealError);
      expect((err as PayloadSealError).unknownKey).toBe(true);
      expect((err as Error).message).toMatch(/"k1"/);
    }
  });

  it('refuses bad or missing PAYLOAD_KEYS at start with a ConfigError naming the setting, never echoing a key', () => {
    expect(() => parsePayloadKeys('k1:c2hvcnQ=')).toThrow(/32 bytes/);
    expect(() => parsePayloadKeys('nokey')).toThrow(/kid:base64key/);
    const good = generatePayloadKeys('a');
    expect(() => parsePayloadKeys(`${good},${good}`)).toThrow(/twice/);
    const secret = 'k1:c2VjcmV0LWtleS1tYXRlcmlhbA==';
    try {
      loadConfig(payloadKeysEnvSchema, { PAYLOAD_KEYS: secret });
      throw new Error('expected a ConfigError');
    } catch (err) {
      expect(err).toBeInstanceOf(ConfigError);
      expect((err as Error).message).toMatch(/PAYLOAD_KEYS/);
      expect((err as Error).message).not.toContain('c2VjcmV0');
    }
    expect(() => requirePayloadKeys(loadConfig(payloadKeysEnvSchema, {}))).toThrow(/PAYLOAD_KEYS is required/);
    expect(requirePayloadKeys(loadConfig(payloadKeysEnvSchema, { PAYLOAD_KEYS: good }))[0]!.id).toBe('a');
  });
});
