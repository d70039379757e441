-- Claims a webhook delivery's idempotency key for a short processing lease.
-- KEYS: seen key. ARGV: token, lease ms, processing prefix ('processing'), done mark ('done').
-- Returns {'claimed'}, {'done'} (applied before: a duplicate) or {'busy', ms left on another delivery's lease}.
-- A held lease longer than ours (a claim written before leases existed, or under a longer setting) is cut down to
-- ours, so such a claim cannot park its delivery for hours.
local v = redis.call('GET', KEYS[1])
local lease = tonumber(ARGV[2])
if not v then
  redis.call('SET', KEYS[1], ARGV[3] .. ':' .. ARGV[1], 'PX', lease)
  return {'claimed'}
end
if v == ARGV[4] then return {'done'} end
local ttl = redis.call('PTTL', KEYS[1])
if ttl < 0 or ttl > lease then
  redis.call('PEXPIRE', KEYS[1], lease)
  ttl = lease
end
return {'busy', ttl}
