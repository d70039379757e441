import { DEFAULT_RETRY_AFTER_MS, parseRetryAfter, retryAfterMsFromHeaders } from '../src';

const NOW = Date.parse('2025-03-01T12:00:00Z');

describe('parseRetryAfter', () => {
  it('reads delta-seconds', () => {
    expect(parseRetryAfter('0', NOW)).toBe(0);
    expect(parseRetryAfter('5', NOW)).toBe(5000);
    expect(parseRetryAfter(' 120 ', NOW)).toBe(120_000);
    expect(parseRetryAfter('1.5', NOW)).toBe(1500);
  });

  it('reads an HTTP-date relative to now, never negative', () => {
    expect(parseRetryAfter('Sat, 01 Mar 2025 12:00:30 GMT', NOW)).toBe(30_000);
    expect(parseRetryAfter(new Date(NOW + 2500).toUTCString(), NOW)).toBe(2000); // HTTP-dates have whole seconds
    expect(parseRetryAfter('Sat, 01 Mar 2025 11:59:00 GMT', NOW)).toBe(0);
  });

  it('refuses what is neither', () => {
    for (const v of [undefined, '', 'soon', '-5', '12abc', 'Mon, 99 Foo 2025'])
      expect(parseRetryAfter(v, NOW)).toBeUndefined();
  });
});

describe('retryAfterMsFromHeaders', () => {
  it('prefers the precise sandbox header, whatever the case', () => {
    expect(retryAfterMsFromHeaders({ 'retry-after': '2', 'x-sandbox-retry-after-ms': '1234' }, NOW)).toBe(1234);
    expect(retryAfterMsFromHeaders({ 'Retry-After': '2', 'X-Sandbox-Retry-After-Ms': '250' }, NOW)).toBe(250);
  });

  it('falls back to Retry-After when the sandbox header is unreadable', () => {
    expect(retryAfterMsFromHeaders({ 'retry-after': '3', 'x-sandbox-retry-after-ms': 'n/a' }, NOW)).toBe(3000);
    expect(retryAfterMsFromHeaders({ 'retry-after': ['4', '9'] }, NOW)).toBe(4000);
  });

  it('defaults when nothing can be read', () => {
    expect(retryAfterMsFromHeaders({}, NOW)).toBe(DEFAULT_RETRY_AFTER_MS);
    expect(retryAfterMsFromHeaders({ 'retry-after': 'later' }, NOW)).toBe(DEFAULT_RETRY_AFTER_MS);
  });
});
