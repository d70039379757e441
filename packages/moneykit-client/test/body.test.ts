import { MAX_REQUEST_BYTES, serializeBody } from '../src';

describe('serializeBody', () => {
  it('measures UTF-8 bytes, not characters', () => {
    const { json, bytes } = serializeBody({ description: 'café ☕ 𝄞' });
    expect(json).toBe('{"description":"café ☕ 𝄞"}');
    expect(bytes).toBe(Buffer.from(json, 'utf8').length);
    expect(bytes).toBeGreaterThan(json.length);
  });

  it('is the same string JSON.stringify gives, so padding can hit an exact size', () => {
    const base = serializeBody({ description: '' }).bytes;
    const { bytes } = serializeBody({ description: 'x'.repeat(MAX_REQUEST_BYTES - base) });
    expect(bytes).toBe(MAX_REQUEST_BYTES);
  });

  it('refuses what JSON cannot carry', () => {
    expect(() => serializeBody(undefined)).toThrow(TypeError);
    expect(() => serializeBody(() => 1)).toThrow(TypeError);
  });

  it('is exported with the limit from @mk/shared', () => {
    expect(MAX_REQUEST_BYTES).toBe(1_000_000);
  });
});
