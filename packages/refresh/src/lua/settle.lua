-- Records the outcome of one refresh call and plans the link's next one.
-- KEYS: state hash, due index of the bucket, top, meta
-- ARGV: link, bucket, timing, claimed codes, token, previous entries, action, arg, rand (0..1), jitterFraction
-- Returns {mode, next due ms ('' when not scheduled)}.
-- actions: accepted (arg: granted codes or '*'), uncertain (arg: 'answered' | 'silent'), rollback, retry,
--          later (arg: delay ms), park (arg: reason code), remove (arg: reason code),
--          stop (arg: codes, then status char after ':' e.g. 'it:x'),
--          unsent (token: when the uncertain call's claim was taken; claimed: the products MoneyKit never received)
local sk, ik, top, meta = KEYS[1], KEYS[2], KEYS[3], KEYS[4]
local link, bucket = ARGV[1], ARGV[2]
local cfg = parse_timing(ARGV[3])
local claimed, token, action, arg = ARGV[4], tonumber(ARGV[5]), ARGV[7], ARGV[8]
local rand, jitter = tonumber(ARGV[9]), tonumber(ARGV[10])
local now = now_ms()
local v = redis.call('HGET', sk, link)
if not v then return { 'gone', '' } end
local st = decode(v)
if st.mode == 'x' then return { 'removed', '' } end

local prev = {}
for e in string.gmatch(ARGV[6], '[^,]+') do prev[#prev + 1] = e end
-- Only our own claim is touched: a product claimed since (token differs) belongs to someone else.
local function ours(c)
  local p = st.by[c]
  if p and p.t == token and p.s == 'i' then return p end
  return nil
end
local function restore(mine)
  mine = mine or ours
  local i = 0
  for c in string.gmatch(claimed, '%a') do
    i = i + 1
    local p = mine(c)
    if p then
      local e = prev[i] or '-'
      p.s = string.sub(e, 1, 1)
      local t = string.sub(e, 2)
      if t ~= '' then p.t = dec_time(t) else p.t = nil end
    end
  end
end

local later = nil
if action == 'accepted' then
  for c in string.gmatch(claimed, '%a') do
    local p = ours(c)
    if p then p.s, p.t = 'q', now end
  end
  if arg ~= '*' then
    local granted = {}
    for c in string.gmatch(arg, '%a') do granted[c] = true end
    for _, p in ipairs(st.list) do
      if not granted[p.c] and not stopped(p) then
        p.s = 'g'
        redis.call('HINCRBY', meta, 'notGranted', 1)
      end
    end
  end
  redis.call('HINCRBY', meta, 'accepted', 1)
elseif action == 'uncertain' then
  for c in string.gmatch(claimed, '%a') do
    local p = ours(c)
    -- answered: MoneyKit was done with it when it answered; silent: it may still process it until the token
    if p then
      p.s = 'r'
      if arg == 'answered' or now > p.t then p.t = now end
    end
  end
  redis.call('HINCRBY', meta, 'uncertain', 1)
elseif action == 'unsent' then
  -- Still the uncertain outcome of that claim (or of a later one: neither arrived) and past its token, so the call
  -- can no longer arrive: the quota was never spent, the product is due as it was before the claim.
  restore(function(c)
    local p = st.by[c]
    if p and p.s == 'r' and p.t and p.t >= token and p.t <= now then return p end
    return nil
  end)
  redis.call('HINCRBY', meta, 'uncertainUnsent', 1)
elseif action == 'rollback' then
  restore()
elseif action == 'retry' then
  -- the job retries itself: keep the lease so the dispatcher leaves the link alone meanwhile
  restore()
  redis.call('HSET', sk, link, encode(st))
  return { st.mode, '' }
elseif action == 'later' then
  restore()
  later = now + tonumber(arg)
elseif action == 'park' then
  restore()
  set_mode(meta, st, 'p')
  st.reason = arg
  redis.call('HINCRBY', meta, 'parkedByRefresh', 1)
elseif action == 'remove' then
  set_mode(meta, st, 'x')
  st.reason = arg
  redis.call('HINCRBY', meta, 'removedByRefresh', 1)
elseif action == 'stop' then
  restore()
  local codes, status = string.match(arg, '^(%a*):(%a)$')
  for c in string.gmatch(codes, '%a') do
    local p = st.by[c]
    if p and not stopped(p) then
      p.s = status
      redis.call('HINCRBY', meta, status == 'g' and 'notGranted' or 'forbidden', 1)
    end
  end
else
  return redis.error_reply('unknown settle action ' .. action)
end

redis.call('HSET', sk, link, encode(st))
local next_due = ''
if st.mode ~= '.' then
  redis.call('ZREM', ik, link)
else
  local due, interval = link_due(st, cfg)
  if later and (not due or later > due) then due = later end
  if due then
    if due < now then due = now end
    next_due = math.floor(due + rand * jitter * interval)
    redis.call('ZADD', ik, next_due, link)
  else
    redis.call('ZREM', ik, link)
  end
end
touch_top(top, ik, bucket)
return { st.mode, tostring(next_due) }
