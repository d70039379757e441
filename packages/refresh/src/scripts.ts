/** Loads the Lua scripts (each prefixed with lib.lua) as ioredis commands. */
import fs from 'node:fs';
import path from 'node:path';
import type { Redis } from '@mk/shared';
import { STATE_EPOCH_MS } from './state';

const SCRIPTS = {
  mkRefreshRegister: { file: 'register.lua', keys: 2 },
  mkRefreshDispatch: { file: 'dispatch.lua', keys: 2 },
  mkRefreshConfirm: { file: 'confirm.lua', keys: 1 },
  mkRefreshClaim: { file: 'claim.lua', keys: 2 },
  mkRefreshSettle: { file: 'settle.lua', keys: 4 },
  mkRefreshLink: { file: 'link.lua', keys: 5 },
  mkRefresh429: { file: 'rate429.lua', keys: 1 },
} as const;
export type ScriptName = keyof typeof SCRIPTS;

let sources: Record<ScriptName, string> | undefined;
function loadSources(): Record<ScriptName, string> {
  if (sources) return sources;
  const dir = path.join(__dirname, 'lua');
  const lib = fs.readFileSync(path.join(dir, 'lib.lua'), 'utf8').replace('__STATE_EPOCH_MS__', String(STATE_EPOCH_MS));
  sources = Object.fromEntries(
    Object.entries(SCRIPTS).map(([name, s]) => [name, `${lib}\n${fs.readFileSync(path.join(dir, s.file), 'utf8')}`]),
  ) as Record<ScriptName, string>;
  return sources;
}

type ScriptCaller = (...args: (string | number)[]) => Promise<unknown>;
export type RefreshScripts = Record<ScriptName, ScriptCaller>;

/** Defines the commands on `redis` (once per connection) and returns typed callers. */
export function refreshScripts(redis: Redis): RefreshScripts {
  const src = loadSources();
  const commands = redis as unknown as Record<string, ScriptCaller | undefined>;
  const out = {} as RefreshScripts;
  for (const [name, s] of Object.entries(SCRIPTS) as [ScriptName, (typeof SCRIPTS)[ScriptName]][]) {
    if (!commands[name]) redis.defineCommand(name, { numberOfKeys: s.keys, lua: src[name] });
    out[name] = (...args) => (commands[name] as ScriptCaller).apply(redis, args);
  }
  return out;
}
