/**
 * A fresh clone from a public host has nothing beside it: no file of the repository may read or name a path
 * outside it (a sibling `shared/` folder, the machine it was written on, a home directory).
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';

const ROOT = path.resolve(__dirname, '..', '..', '..');
const OUTSIDE = [
  { pattern: /\.\.\/shared\b/, what: 'a sibling shared/ folder' },
  { pattern: /\bshared\/reference\b/, what: 'the reference folder beside the repository' },
  { pattern: /(^|[\s'"`(=:])\/(work|root|home\/[\w.-]+)\//, what: 'an absolute path of the machine it was written on' },
];
const BINARY = /\.(png|jpe?g|gif|gz|ico|woff2?)$/i;

function trackedFiles(): string[] {
  const out = execFileSync('git', ['ls-files', '-z'], { cwd: ROOT, encoding: 'utf8' });
  return out.split('\0').filter((f) => f && !BINARY.test(f) && f !== 'pnpm-lock.yaml');
}

describe('the repository is self-contained', () => {
  it('no tracked file reads or names a path outside the repository', () => {
    const offenders: string[] = [];
    for (const file of trackedFiles()) {
      const full = path.join(ROOT, file);
      if (!fs.existsSync(full)) continue;
      fs.readFileSync(full, 'utf8')
        .split('\n')
        .forEach((line, i) => {
          for (const { pattern, what } of OUTSIDE)
            if (pattern.test(line)) offenders.push(`${file}:${i + 1}: ${what}: ${line.trim().slice(0, 120)}`);
        });
    }
    expect(offenders).toEqual([]);
  });

  it('the MoneyKit contract the tests validate against is in the repository', () => {
    const contract = path.join(ROOT, 'packages', 'testkit', 'contract', 'moneykit-contract.openapi.json');
    const doc = JSON.parse(fs.readFileSync(contract, 'utf8')) as { openapi: string; paths: Record<string, unknown> };
    expect(doc.openapi).toMatch(/^3\.1/);
    for (const p of [
      '/auth/token',
      '/links/import',
      '/links/{id}/import/transactions',
      '/links/{id}/products',
      '/users/{id}/links',
    ])
      expect(doc.paths).toHaveProperty([p]);
  });
});
