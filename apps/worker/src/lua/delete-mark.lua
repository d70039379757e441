-- Deletes the pause mark only if nobody re-marked it since it was read.
-- KEYS: pause mark. ARGV: the `at` seen.
-- Returns 1 when deleted, else 0.
if redis.call('HGET', KEYS[1], 'at') == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
