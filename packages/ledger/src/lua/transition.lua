-- One change of one connection record, atomically with the state counts, the link owners and the activity figures.
-- KEYS: conns, counts, links (link_id → field), rate (minute → imported; 'last' = ms of the last import),
--       open (field → job id), errors (minute → retryable errors; 'last', 'lastAt' = the latest one's message and ms),
--       outbox (stream of events for the team's backend, outbox.ts).
-- ARGV: field, patch json (null removes a key), now ms, '1' to count an attempt, expected states ('' = any, else ',a,b,'),
--       expected rev ('' = unfenced), '1' to write events to the outbox (NOTIFY_URL set).
-- Reaching imported or failed writes its event (connection.imported / connection.failed) in the same step: a worker
-- killed right after the change cannot lose it. Failure events carry the error's class and code, never its message.
-- Every failed attempt the worker records (a patch with a retryable lastError) is counted here, so status can say
-- "MoneyKit unreachable: N errors in the last 5 min" without the worker doing anything more.
-- Returns the new record json, or an error reply: LEDGER_NO_RECORD, LEDGER_STATE <state> (not in an expected state),
-- LEDGER_CONFLICT <state> (changed since the expected rev).
local cur = redis.call('HGET', KEYS[1], ARGV[1])
if not cur then return redis.error_reply('LEDGER_NO_RECORD') end
local rec = cjson.decode(cur)
if ARGV[6] ~= '' and (rec.rev or 0) ~= tonumber(ARGV[6]) then
  return redis.error_reply('LEDGER_CONFLICT ' .. rec.state)
end
if ARGV[5] ~= '' and not string.find(ARGV[5], ',' .. rec.state .. ',', 1, true) then
  return redis.error_reply('LEDGER_STATE ' .. rec.state)
end
rec.rev = (rec.rev or 0) + 1
local old = rec.state
local patch = cjson.decode(ARGV[2])
for k, v in pairs(patch) do
  if v == cjson.null then rec[k] = nil else rec[k] = v end
end
if ARGV[4] == '1' then rec.attempts = (rec.attempts or 0) + 1 end
local now = tonumber(ARGV[3])
local minute = tostring(math.floor(now / 60000))
rec.updatedAt = now
local enc = cjson.encode(rec)
redis.call('HSET', KEYS[1], ARGV[1], enc)
if old ~= rec.state then
  redis.call('HINCRBY', KEYS[2], old, -1)
  redis.call('HINCRBY', KEYS[2], rec.state, 1)
  local open = rec.state == 'pending' or rec.state == 'importing' or rec.state == 'linked'
  local was_open = old == 'pending' or old == 'importing' or old == 'linked'
  if open and not was_open then redis.call('HSET', KEYS[5], ARGV[1], rec.job or '') end
  if not open then redis.call('HDEL', KEYS[5], ARGV[1]) end
  if rec.state == 'imported' then
    redis.call('HINCRBY', KEYS[4], minute, 1)
    redis.call('HSET', KEYS[4], 'last', ARGV[3])
  end
end
if type(patch.lastError) == 'table' and patch.lastError.errorClass == 'retryable' then
  redis.call('HINCRBY', KEYS[6], minute, 1)
  redis.call('HSET', KEYS[6], 'last', tostring(patch.lastError.message or ''), 'lastAt', ARGV[3])
end
if type(patch.linkId) == 'string' then redis.call('HSET', KEYS[3], patch.linkId, ARGV[1]) end
if ARGV[7] == '1' and old ~= rec.state and (rec.state == 'imported' or rec.state == 'failed') then
  local data = { source_user_id = rec.sourceUserId, source_connection_id = rec.connectionId, link_id = rec.linkId }
  local kind = 'connection.imported'
  if rec.state == 'imported' then
    data.adopted = rec.adopted == true
    data.accounts = rec.accounts
    data.transactions_imported = rec.transactionsImported
  else
    kind = 'connection.failed'
    data.attempts = rec.attempts
    if type(rec.lastError) == 'table' then
      data.error_class = rec.lastError.errorClass
      data.error_code = rec.lastError.code
    end
  end
  redis.call('XADD', KEYS[7], '*', 'type', kind, 'field', ARGV[1], 'n', tostring(rec.rev), 'at', ARGV[3], 'data', cjson.encode(data))
end
return enc
