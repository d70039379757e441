// Apps consume packages, never another app: no file under apps/<app>/src imports another app, by its alias or by a
// relative path. Tests are exempt (they start the sandbox, a worker, ... as real processes or in-process servers).
import tseslint from 'typescript-eslint';

export const APPS = ['worker', 'producer', 'dashboard', 'sandbox'];

const others = (app) => APPS.filter((a) => a !== app);

export const boundaries = APPS.map((app) => ({
  name: `mk/boundaries/${app}`,
  files: [`apps/${app}/src/**/*.ts`],
  languageOptions: { parser: tseslint.parser },
  rules: {
    'no-restricted-imports': [
      'error',
      {
        patterns: [
          {
            group: others(app)
              .map((a) => `@mk/${a}`)
              .flatMap((p) => [p, `${p}/**`]),
            message: 'apps consume packages only: move what both need into packages/',
          },
          {
            regex: `^(\\.\\./)+(apps/)?(${others(app).join('|')})(/|$)`,
            message: 'apps consume packages only: no app imports another app by relative path',
          },
        ],
      },
    ],
  },
}));
