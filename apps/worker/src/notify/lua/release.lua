-- Gives the notifier's lease up on a clean stop, if still ours, so another process takes over at once.
-- KEYS: lease key. ARGV: token.
-- Returns 1 when released.
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
