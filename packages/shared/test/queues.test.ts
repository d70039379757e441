import { importJob, jobId } from '@mk/shared';

describe('jobId', () => {
  it('keeps plain ids readable', () => {
    expect(jobId('run1', 'user_42')).toBe('run1-user_42');
  });

  it('never gives two different part lists the same id', () => {
    const cases: string[][] = [
      [' 0'],
      ['Ȁ'],
      ['%200'],
      ['a-b', 'c'],
      ['a', 'b-c'],
      ['a:b'],
      ['a%3Ab'],
      ['é'],
      ['%C3%A9'],
    ];
    const ids = cases.map((parts) => jobId('run', ...parts));
    expect(new Set(ids).size).toBe(ids.length);
    for (const id of ids) expect(id).not.toMatch(/[:\s]/);
  });
});

describe('importJob.id', () => {
  it('gives each dump line of a user its own job, and each retry round its own', () => {
    expect(importJob.id('run1', 'user_42', 7)).toBe('run1-user_42-L7');
    expect(importJob.id('run1', 'user_42', 7, 2)).toBe('run1-user_42-L7-retry2');
    const ids = [
      importJob.id('r', 'u', 1),
      importJob.id('r', 'u', 2),
      importJob.id('r', 'u-L1', 1),
      importJob.id('r', 'u', 1, 1),
      jobId('r', 'u'),
    ];
    expect(new Set(ids).size).toBe(ids.length);
  });
});
