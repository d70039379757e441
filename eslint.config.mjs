// ESLint flat config: type-aware rules that catch what the compiler does not (a promise nobody awaits, a switch that
// forgets a case) and the import boundary between apps (eslint/boundaries.mjs). Formatting is Prettier's job.
import tseslint from 'typescript-eslint';
import { boundaries } from './eslint/boundaries.mjs';

export default tseslint.config(
  { ignores: ['**/node_modules/**', '**/dist/**', 'bench/out/**', 'demo-out/**', '**/*.js', '**/*.mjs', '**/*.cjs'] },
  {
    name: 'mk/typescript',
    files: ['**/*.ts'],
    languageOptions: {
      parser: tseslint.parser,
      parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname },
    },
    plugins: { '@typescript-eslint': tseslint.plugin },
    linterOptions: { reportUnusedDisableDirectives: 'warn' },
    rules: {
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/switch-exhaustiveness-check': ['error', { considerDefaultExhaustiveForUnions: true }],
    },
  },
  ...boundaries,
);
