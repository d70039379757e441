-- One process at a time resumes a queue paused for refused credentials.
-- KEYS: pause mark. ARGV: who, claim ttl ms (after which a claimer that died is replaced).
-- Returns 1 when this process resumes the queue; 0 when another does, or the mark is gone.
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
local t = redis.call('TIME')
local now = t[1] * 1000 + math.floor(t[2] / 1000)
local claimed = tonumber(redis.call('HGET', KEYS[1], 'resuming_at') or '0')
if now - claimed < tonumber(ARGV[2]) then return 0 end
redis.call('HSET', KEYS[1], 'resuming_at', now, 'resuming_by', ARGV[1])
return 1
