#!/usr/bin/env node
import { ConfigError } from '@mk/shared';
import { startTracing } from '@mk/telemetry';
import { main } from './cli';
import { EXIT } from './exit-codes';

// A reader that stopped early (`report --format json | head`) is not an error of ours: stop quietly.
for (const stream of [process.stdout, process.stderr]) {
  stream.on('error', (err: NodeJS.ErrnoException) => {
    if (err.code === 'EPIPE') process.exit(0);
    throw err;
  });
}

async function run(): Promise<number> {
  let tracing;
  try {
    tracing = startTracing('mk-producer');
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    process.stderr.write(`${err.message}\n`);
    return 1;
  }
  try {
    return await main(process.argv.slice(2));
  } finally {
    await tracing.shutdown().catch(() => undefined);
  }
}

run().then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    process.stderr.write(`mk-migrate could not run: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exitCode = EXIT.error;
  },
);
