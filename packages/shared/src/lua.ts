/**
 * One convention for every Redis script of the service: a `.lua` file beside the module that calls it, opening with
 * a header that says its KEYS, its ARGV and what it returns; loaded once per connection with `defineCommand` (ioredis
 * sends EVALSHA and falls back to EVAL after a restart or SCRIPT FLUSH); called through a typed wrapper in that module,
 * never with a bare `eval` of an inline string.
 */
import fs from 'node:fs';
import path from 'node:path';
import type { Redis } from './redis';

export interface ScriptSpec {
  /** File name, relative to the module's script folder. */
  file: string;
  /** How many of the call's leading arguments are keys. */
  keys: number;
  /** Bulk replies as Buffers (binary values), not strings. */
  buffers?: boolean;
}

/** Calls one script: its keys, then its arguments, in the order its header lists them. */
export type ScriptCall = (keys: readonly string[], args: readonly (string | number | Buffer)[]) => Promise<unknown>;

export interface ScriptSet<N extends string> {
  /** The scripts of one module, bound to one connection. */
  on(redis: Redis): Record<N, ScriptCall>;
}

/**
 * Reads the scripts of one module (once), each prefixed with `prelude` (a library of functions shared by the set),
 * and returns a binder that defines them on a connection. Names are global to a connection: prefix them by module.
 */
export function scriptSet<N extends string>(dir: string, specs: Record<N, ScriptSpec>, prelude = ''): ScriptSet<N> {
  let sources: Record<N, string> | undefined;
  const load = () =>
    (sources ??= Object.fromEntries(
      Object.entries<ScriptSpec>(specs).map(([name, spec]) => [
        name,
        `${prelude}${prelude ? '\n' : ''}${fs.readFileSync(path.join(dir, spec.file), 'utf8')}`,
      ]),
    ) as Record<N, string>);
  return {
    on(redis) {
      const src = load();
      const commands = redis as unknown as Record<
        string,
        ((...args: (string | number | Buffer)[]) => Promise<unknown>) | undefined
      >;
      const out = {} as Record<N, ScriptCall>;
      for (const [name, spec] of Object.entries<ScriptSpec>(specs) as [N, ScriptSpec][]) {
        if (!commands[name]) redis.defineCommand(name, { numberOfKeys: spec.keys, lua: src[name] });
        out[name] = (keys, args) => {
          if (keys.length !== spec.keys)
            return Promise.reject(new Error(`script ${name} takes ${spec.keys} keys, got ${keys.length}`));
          return commands[spec.buffers ? `${name}Buffer` : name]!.call(redis, ...keys, ...args);
        };
      }
      return out;
    },
  };
}

/** Reads a script library (shared functions) from a file, for `scriptSet`'s prelude. */
export function readLua(dir: string, file: string, replace: Record<string, string> = {}): string {
  let text = fs.readFileSync(path.join(dir, file), 'utf8');
  for (const [token, value] of Object.entries(replace)) text = text.split(token).join(value);
  return text;
}
