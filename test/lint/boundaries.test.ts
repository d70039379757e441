/**
 * The lint config (eslint.config.mjs) fails the build when an app imports another app: run the real ESLint, with the
 * repository's own config, on a snippet given as the content of an existing app file.
 */
import { spawnSync } from 'node:child_process';
import path from 'node:path';

const ROOT = path.resolve(__dirname, '../..');

interface LintMessage {
  ruleId: string | null;
  line: number;
  message: string;
}

function lint(asFile: string, code: string): LintMessage[] {
  const run = spawnSync('pnpm', ['exec', 'eslint', '--stdin', '--stdin-filename', asFile, '--format', 'json'], {
    cwd: ROOT,
    input: code,
    encoding: 'utf8',
  });
  if (!run.stdout) throw new Error(`eslint gave no report (exit ${run.status}): ${run.stderr}`);
  const [report] = JSON.parse(run.stdout) as { messages: LintMessage[] }[];
  return report!.messages;
}

const boundary = (messages: LintMessage[]) =>
  messages.filter((m) => m.ruleId === 'no-restricted-imports').map((m) => m.line);

describe('import boundary between apps', () => {
  it('refuses, under apps/*/src, another app by alias or by relative path, and lets packages and own files through', () => {
    const code = [
      "import { enqueueRun } from '@mk/producer';",
      "import { buildDashboard } from '../../dashboard/src/app';",
      "import { startSandbox } from '@mk/sandbox';",
      "import { startImportWorker } from './import';",
      "import { createLogger } from '@mk/shared';",
      'export const used = [enqueueRun, buildDashboard, startSandbox, startImportWorker, createLogger];',
      '',
    ].join('\n');
    expect(boundary(lint('apps/worker/src/start.ts', code))).toEqual([1, 2, 3]);
  }, 180_000);

  it('leaves tests free to start other apps', () => {
    const code = "import { startSandbox } from '@mk/sandbox';\nexport const used = startSandbox;\n";
    expect(boundary(lint('apps/worker/test/hand-over.test.ts', code))).toEqual([]);
  }, 180_000);
});
