-- Gives a delivery's key back after a failed apply, only while the lease is still this delivery's.
-- KEYS: seen key. ARGV: token, processing prefix ('processing').
-- Returns 1 when released, 0 when the key is someone else's (another lease, or done).
if redis.call('GET', KEYS[1]) == ARGV[2] .. ':' .. ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
