/** Lua: each ledger change is one atomic step, so a worker killed at any instant leaves records and counts in step. */

/** KEYS: conns, counts. ARGV: json array of [field, record json]. Adds records that do not exist yet. */
export const REGISTER = `
local added = 0
for _, pair in ipairs(cjson.decode(ARGV[1])) do
  if redis.call('HSETNX', KEYS[1], pair[1], pair[2]) == 1 then
    redis.call('HINCRBY', KEYS[2], 'pending', 1)
    added = added + 1
  end
end
return added
`;

/**
 * KEYS: conns, counts, links (link_id → field), rate (minute → imported).
 * ARGV: field, patch json (null removes a key), now ms, '1' to count an attempt, expected states ('' = any, else ',a,b,'),
 *       expected rev ('' = unfenced).
 * Returns the new record json, or an error reply when the record is missing, not in an expected state, or changed
 * since the expected rev.
 */
export const TRANSITION = `
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
rec.updatedAt = tonumber(ARGV[3])
local enc = cjson.encode(rec)
redis.call('HSET', KEYS[1], ARGV[1], enc)
if old ~= rec.state then
  redis.call('HINCRBY', KEYS[2], old, -1)
  redis.call('HINCRBY', KEYS[2], rec.state, 1)
  if rec.state == 'imported' then
    redis.call('HINCRBY', KEYS[4], tostring(math.floor(tonumber(ARGV[3]) / 60000)), 1)
  end
end
if type(patch.linkId) == 'string' then redis.call('HSET', KEYS[3], patch.linkId, ARGV[1]) end
return enc
`;
