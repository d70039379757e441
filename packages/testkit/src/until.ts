import { measureSlowdown } from './cpu-load';

export interface UntilOptions {
  /** How long the wait may take on a machine to itself (default 20 s). */
  timeoutMs?: number;
  /** Time between two checks (default 50 ms). */
  everyMs?: number;
  /** Said after "timed out waiting for …": the state that explains why. */
  diagnose?: () => string | Promise<string>;
}

/**
 * Waits until `check` holds. The time given is the budget on a machine to itself: when it runs out, the slowdown is
 * measured once and the wait goes on for that much longer, so a starved machine makes the test slow, not red. Fails
 * with what it waited for (and `diagnose`).
 */
export async function until(
  what: string,
  check: () => boolean | Promise<boolean>,
  opts: UntilOptions = {},
): Promise<void> {
  const { timeoutMs = 20_000, everyMs = 50 } = opts;
  let deadline = Date.now() + timeoutMs;
  let stretched = false;
  for (;;) {
    if (await check()) return;
    if (Date.now() > deadline) {
      if (stretched) {
        const why = opts.diagnose ? await opts.diagnose() : '';
        throw new Error(`timed out waiting for ${what}${why ? `\n${why}` : ''}`);
      }
      stretched = true;
      deadline += (measureSlowdown() - 1) * timeoutMs;
    }
    await new Promise((r) => setTimeout(r, everyMs));
  }
}
