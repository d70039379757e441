-- Records the outcome of refresh calls and plans each link's next one. Links of one shard: a batch of answers costs
-- one call, its counters one HINCRBY each and every bucket's top entry one update.
-- KEYS: top, meta. ARGV: base, timing, jitterFraction,
--   then per call 8 fields: link, bucket, claimed codes, token, previous entries, action, arg, rand (0..1)
-- Returns per call 2 fields: mode (or 'gone' / 'removed'), next due ms ('' when not scheduled).
-- actions: accepted (arg: granted codes or '*'), uncertain (arg: 'answered' | 'silent'), rollback, retry,
--          later (arg: delay ms), park (arg: reason code), remove (arg: reason code),
--          stop (arg: codes, then status char after ':' e.g. 'it:x'),
--          unsent (token: when the uncertain call's claim was taken; claimed: the products MoneyKit never received)
local top, meta, base = KEYS[1], KEYS[2], ARGV[1]
local cfg = parse_timing(ARGV[2])
local jitter = tonumber(ARGV[3])
local now = now_ms()
local counts, touched, out = {}, {}, {}

local function count(name, n)
  counts[name] = (counts[name] or 0) + (n or 1)
end

-- Only our own claim is touched: a product claimed since (token differs) belongs to someone else.
local function ours(st, c, token)
  local p = st.by[c]
  if p and p.t == token and p.s == 'i' then return p end
  return nil
end

-- Each claimed product that `mine` picks goes back to its record before the claim (prev_arg: one entry per claimed
-- product, in order).
local function restore(st, claimed, token, prev_arg, mine)
  mine = mine or ours
  local prev = {}
  for e in string.gmatch(prev_arg, '[^,]+') do prev[#prev + 1] = e end
  local i = 0
  for c in string.gmatch(claimed, '%a') do
    i = i + 1
    local p = mine(st, c, token)
    if p then
      local e = prev[i] or '-'
      p.s = string.sub(e, 1, 1)
      local t = string.sub(e, 2)
      if t ~= '' then p.t = dec_time(t) else p.t = nil end
    end
  end
end

local function settle(link, bucket, claimed, token, prev_arg, action, arg, rand)
  local sk, ik = base .. 's:' .. bucket, base .. 'd:' .. bucket
  local v = redis.call('HGET', sk, link)
  if not v then return 'gone', '' end
  local st = decode(v)
  if st.mode == 'x' then return 'removed', '' end

  local later = nil
  if action == 'accepted' then
    for c in string.gmatch(claimed, '%a') do
      local p = ours(st, c, token)
      if p then p.s, p.t = 'q', now end
    end
    if arg ~= '*' then
      local granted = {}
      for c in string.gmatch(arg, '%a') do granted[c] = true end
      for _, p in ipairs(st.list) do
        if not granted[p.c] and not stopped(p) then
          p.s = 'g'
          count('notGranted')
        end
      end
    end
    count('accepted')
  elseif action == 'uncertain' then
    for c in string.gmatch(claimed, '%a') do
      local p = ours(st, c, token)
      -- answered: MoneyKit was done with it when it answered; silent: it may still process it until the token
      if p then
        p.s = 'r'
        if arg == 'answered' or now > p.t then p.t = now end
      end
    end
    count('uncertain')
  elseif action == 'unsent' then
    -- Still the uncertain outcome of that claim (or of a later one: neither arrived) and past its token, so the call
    -- can no longer arrive: the quota was never spent, the product is due as it was before the claim.
    restore(st, claimed, token, prev_arg, function(state, c)
      local p = state.by[c]
      if p and p.s == 'r' and p.t and p.t >= token and p.t <= now then return p end
      return nil
    end)
    count('uncertainUnsent')
  elseif action == 'rollback' then
    restore(st, claimed, token, prev_arg)
  elseif action == 'retry' then
    -- the link's next job retries it: keep the lease so the dispatcher leaves the link alone meanwhile
    restore(st, claimed, token, prev_arg)
    redis.call('HSET', sk, link, encode(st))
    return st.mode, ''
  elseif action == 'later' then
    restore(st, claimed, token, prev_arg)
    later = now + tonumber(arg)
  elseif action == 'park' then
    restore(st, claimed, token, prev_arg)
    set_mode(meta, st, 'p')
    st.reason = arg
    count('parkedByRefresh')
  elseif action == 'remove' then
    set_mode(meta, st, 'x')
    st.reason = arg
    count('removedByRefresh')
  elseif action == 'stop' then
    restore(st, claimed, token, prev_arg)
    local codes, status = string.match(arg, '^(%a*):(%a)$')
    for c in string.gmatch(codes, '%a') do
      local p = st.by[c]
      if p and not stopped(p) then
        p.s = status
        count(status == 'g' and 'notGranted' or 'forbidden')
      end
    end
  end

  redis.call('HSET', sk, link, encode(st))
  touched[bucket] = ik
  if st.mode ~= '.' then
    redis.call('ZREM', ik, link)
    return st.mode, ''
  end
  local due, interval = link_due(st, cfg)
  if later and (not due or later > due) then due = later end
  if not due then
    redis.call('ZREM', ik, link)
    return st.mode, ''
  end
  if due < now then due = now end
  local next_due = math.floor(due + rand * jitter * interval)
  redis.call('ZADD', ik, next_due, link)
  return st.mode, tostring(next_due)
end

-- every action known before anything is written: a script's writes are not undone by a later error
local ACTIONS = { accepted = 1, uncertain = 1, unsent = 1, rollback = 1, retry = 1, later = 1, park = 1, remove = 1, stop = 1 }
for i = 4, #ARGV, 8 do
  if not ACTIONS[ARGV[i + 5]] then return redis.error_reply('unknown settle action ' .. ARGV[i + 5]) end
end
for i = 4, #ARGV, 8 do
  local mode, next_due = settle(ARGV[i], ARGV[i + 1], ARGV[i + 2], tonumber(ARGV[i + 3]), ARGV[i + 4], ARGV[i + 5],
    ARGV[i + 6], tonumber(ARGV[i + 7]))
  out[#out + 1] = mode
  out[#out + 1] = next_due
end
for bucket, ik in pairs(touched) do touch_top(top, ik, bucket) end
for name, n in pairs(counts) do redis.call('HINCRBY', meta, name, n) end
return out
