/**
 * `--help` for the scripts and apps that have no commander program: prints the usage and exits 0 before anything
 * starts (no Redis, no port). The apps are configured by environment only, so their help lists the variables.
 */
import type { z } from 'zod';

export const wantsHelp = (argv: readonly string[] = process.argv.slice(2)) =>
  argv.includes('--help') || argv.includes('-h');

export function exitOnHelp(usage: string, argv: readonly string[] = process.argv.slice(2)): void {
  if (!wantsHelp(argv)) return;
  process.stdout.write(`${usage.trim()}\n`);
  process.exit(0);
}

/** Usage of an app set up by environment variables: what it does and which variables it reads. */
export function envUsage(command: string, what: string, schema: z.ZodObject<z.ZodRawShape>): string {
  const vars = Object.keys(schema.shape).sort();
  return `usage: ${command}\n\n${what}\n\nConfigured by environment variables (a .env file is read when present; .env.example documents each):\n  ${vars.join('\n  ')}`;
}
