-- Is the import queue paused by an operator (paused, and no mark of ours saying why)?
-- KEYS: pause mark, queue meta.
-- Returns 1 when an operator paused it, else 0.
return (redis.call('HEXISTS', KEYS[2], 'paused') == 1 and redis.call('EXISTS', KEYS[1]) == 0) and 1 or 0
