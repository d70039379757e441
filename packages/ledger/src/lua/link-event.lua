-- What MoneyKit said about an imported link (a state-change webhook), recorded once per fact.
-- KEYS: conns, reconnected (field → first reconnect ms), reconnects (day → links reconnected that day),
--       attention (field → last reason<TAB>ms), outbox (events for the team's backend).
-- ARGV: field, kind ('reconnected' | 'attention'), event ms, reason (attention only), '1' to write the event.
-- A webhook delivered twice changes nothing the second time: a link counts as reconnected once (its first
-- reconnect), and an attention event is written once per (reason, time). The record itself is not touched, so a
-- worker still fenced on its revision is never disturbed.
-- Returns 1 when something was recorded, 0 for a repeat, an error reply LEDGER_NO_RECORD when the field is unknown.
local cur = redis.call('HGET', KEYS[1], ARGV[1])
if not cur then return redis.error_reply('LEDGER_NO_RECORD') end
local rec = cjson.decode(cur)
local kind, at = ARGV[2], tonumber(ARGV[3])
local data = { source_user_id = rec.sourceUserId, source_connection_id = rec.connectionId, link_id = rec.linkId }
local event
if kind == 'reconnected' then
  if redis.call('HSETNX', KEYS[2], ARGV[1], ARGV[3]) == 0 then return 0 end
  redis.call('HINCRBY', KEYS[3], tostring(math.floor(at / 86400000)), 1)
  redis.call('HDEL', KEYS[4], ARGV[1])
  event = 'link.reconnected'
  data.reconnected_at_ms = at
elseif kind == 'attention' then
  local mark = ARGV[4] .. '\t' .. ARGV[3]
  if redis.call('HGET', KEYS[4], ARGV[1]) == mark then return 0 end
  redis.call('HSET', KEYS[4], ARGV[1], mark)
  event = 'link.needs_attention'
  data.reason = ARGV[4]
  data.at_ms = at
else
  return redis.error_reply('unknown link event ' .. kind)
end
if ARGV[5] == '1' then
  redis.call('XADD', KEYS[5], '*', 'type', event, 'field', ARGV[1], 'n', ARGV[3], 'at', ARGV[3], 'data', cjson.encode(data))
end
return 1
