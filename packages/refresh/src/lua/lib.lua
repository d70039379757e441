-- Shared by every refresh script (prepended at load). Format of the packed state: see ../state.ts.
-- Every time is Redis server time (TIME), so all workers measure quotas on one clock.
local DIGITS = '0123456789abcdefghijklmnopqrstuvwxyz'
local EPOCH = tonumber('__STATE_EPOCH_MS__')

local function now_ms()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end

-- A batch writes the same few times (its claim's token, the settle's now) into many links: each is encoded once.
local encoded = {}
local function enc_time(ms)
  local n = math.floor(ms - EPOCH)
  if n <= 0 then return '0' end
  local known = encoded[n]
  if known then return known end
  local digits, k = {}, n
  while k > 0 do
    local d = k % 36
    digits[#digits + 1] = string.sub(DIGITS, d + 1, d + 1)
    k = (k - d) / 36
  end
  local s = string.reverse(table.concat(digits))
  encoded[n] = s
  return s
end

local function dec_time(s)
  return tonumber(s, 36) + EPOCH
end

local function decode(v)
  local st = { mode = string.sub(v, 1, 1), reason = string.sub(v, 2, 2), list = {}, by = {} }
  local list, by = st.list, st.by
  -- one match per product: its code, status and time (the time kept as read, written back as it was unless changed)
  for c, s, raw in string.gmatch(v, ',([^,])([^,])([^,]*)') do
    local p = { c = c, s = s }
    if raw ~= '' then
      local t = dec_time(raw)
      p.t, p.t0, p.raw = t, t, raw
    end
    list[#list + 1] = p
    by[c] = p
  end
  return st
end

local function encode(st)
  local parts = { st.mode .. st.reason }
  for _, p in ipairs(st.list) do
    local t = ''
    if p.t then t = (p.t == p.t0 and p.raw) or enc_time(p.t) end
    parts[#parts + 1] = p.c .. p.s .. t
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
