-- Shared by every refresh script (prepended at load). Format of the packed state: see ../state.ts.
-- Every time is Redis server time (TIME), so all workers measure quotas on one clock.
local DIGITS = '0123456789abcdefghijklmnopqrstuvwxyz'
local EPOCH = tonumber('__STATE_EPOCH_MS__')

local function now_ms()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end

local function enc_time(ms)
  local n = math.floor(ms - EPOCH)
  if n <= 0 then return '0' end
  local s = ''
  while n > 0 do
    local d = n % 36
    s = string.sub(DIGITS, d + 1, d + 1) .. s
    n = (n - d) / 36
  end
  return s
end

local function dec_time(s)
  return tonumber(s, 36) + EPOCH
end

local function decode(v)
  local st = { mode = string.sub(v, 1, 1), reason = string.sub(v, 2, 2), list = {}, by = {} }
  local head = true
  for e in string.gmatch(v, '[^,]+') do
    if head then
      head = false
    else
      local p = { c = string.sub(e, 1, 1), s = string.sub(e, 2, 2) }
      local t = string.sub(e, 3)
      if t ~= '' then p.t = dec_time(t) end
      st.list[#st.list + 1] = p
      st.by[p.c] = p
    end
  end
  return st
end

local function encode(st)
  local parts = { st.mode .. st.reason }
  for _, p in ipairs(st.list) do
    parts[#parts + 1] = p.c .. p.s .. (p.t and enc_time(p.t) or '')
  end
  return table.concat(parts, ',')
end

-- "a:<allowMs>:<intervalMs>:<deferMs>;t:..." (see productTimings in ../options.ts)
local function parse_timing(s)
  local cfg = {}
  for c, a, i, d in string.gmatch(s, '(%a):(%d+):(%d+):(%d+)') do
    cfg[c] = { allow = tonumber(a), interval = tonumber(i), defer = tonumber(d) }
  end
  return cfg
end

local function stopped(p)
  return p.s == 'x' or p.s == 'g'
end

-- When a product should next be refreshed; nil when it is stopped.
local function product_due(p, cfg)
  if stopped(p) then return nil end
  if not p.t then return 0 end
  -- unknown outcome or a claim that never settled: again as soon as the quota allows
  if p.s == 'r' or p.s == 'i' then return p.t + cfg[p.c].allow end
  return p.t + cfg[p.c].interval
end

-- Earliest due product of the link and its interval (for jitter); nil when nothing is left to refresh.
local function link_due(st, cfg)
  local best, interval = nil, 0
  for _, p in ipairs(st.list) do
    local d = product_due(p, cfg)
    if d and (not best or d < best) then best, interval = d, cfg[p.c].interval end
  end
  return best, interval
end

-- The top-level index holds each bucket's earliest due time, so the dispatcher finds due buckets at once.
local function touch_top(top, index, bucket)
  local first = redis.call('ZRANGE', index, 0, 0, 'WITHSCORES')
  if first[1] then
    redis.call('ZADD', top, first[2], bucket)
  else
    redis.call('ZREM', top, bucket)
  end
end

local function set_mode(meta, st, mode)
  if st.mode == mode then return end
  if st.mode == 'p' then redis.call('HINCRBY', meta, 'parked', -1) end
  if mode == 'p' then redis.call('HINCRBY', meta, 'parked', 1) end
  if mode == 'x' then
    redis.call('HINCRBY', meta, 'links', -1)
    redis.call('HINCRBY', meta, 'removed', 1)
    st.list, st.by = {}, {}
  end
  st.mode = mode
end
