import { jobId } from '@mk/shared';

describe('jobId', () => {
  it('keeps plain ids readable', () => {
    expect(jobId('run1', 'user_42')).toBe('run1-user_42');
  });

  it('never gives two different part lists the same id', () => {
    const cases: string[][] = [[' 0'], ['Ȁ'], ['%200'], ['a-b', 'c'], ['a', 'b-c'], ['a:b'], ['a%3Ab'], ['é'], ['%C3%A9']];
    const ids = cases.map((parts) => jobId('run', ...parts));
    expect(new Set(ids).size).toBe(ids.length);
    for (const id of ids) expect(id).not.toMatch(/[:\s]/);
  });
});
