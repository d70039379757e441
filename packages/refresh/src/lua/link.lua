-- Operator and webhook actions on one link.
-- KEYS: state hash, due index of the bucket, top, meta, webhook order hash
-- ARGV: link, bucket, timing, action, reason code, event time ms ('' = not from a webhook), product code, status char
-- actions: park, resume (due at once), remove, trigger (due at once, quota still applies), product (webhook status)
local sk, ik, top, meta, wk = KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5]
local link, bucket = ARGV[1], ARGV[2]
local cfg = parse_timing(ARGV[3])
local action, reason, event_at = ARGV[4], ARGV[5], ARGV[6]
local now = now_ms()
local v = redis.call('HGET', sk, link)
local marks = { resume = 'r', park = 'p', remove = 'x' }

if event_at ~= '' then
  -- webhooks are retried and may arrive out of order: an older state change never undoes a newer one.
  -- Kept as <action><reason><time>, also for a link not registered yet (its registration starts from it).
  local seen = redis.call('HGET', wk, link)
  if seen and dec_time(string.sub(seen, 3)) > tonumber(event_at) then return 'stale' end
  if marks[action] then redis.call('HSET', wk, link, marks[action] .. reason .. enc_time(tonumber(event_at))) end
end
if not v then return 'unknown' end
local st = decode(v)
if st.mode == 'x' then return 'removed' end

local result = st.mode
if action == 'park' then
  set_mode(meta, st, 'p')
  st.reason = reason
  redis.call('ZREM', ik, link)
  result = 'parked'
elseif action == 'resume' or action == 'trigger' then
  if st.mode == 'p' and action == 'resume' then
    set_mode(meta, st, '.')
    st.reason = '0'
    redis.call('HINCRBY', meta, 'resumed', 1)
  end
  if st.mode == '.' then
    if link_due(st, cfg) then redis.call('ZADD', ik, now, link) end
    result = 'due'
  end
elseif action == 'remove' then
  set_mode(meta, st, 'x')
  st.reason = reason
  redis.call('ZREM', ik, link)
  result = 'removed'
elseif action == 'product' then
  local p = st.by[ARGV[7]]
  if not p or stopped(p) then return 'ignored' end
  p.s = ARGV[8]
  result = 'recorded'
else
  return redis.error_reply('unknown link action ' .. action)
end
redis.call('HSET', sk, link, encode(st))
touch_top(top, ik, bucket)
return result
