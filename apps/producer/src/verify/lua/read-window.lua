-- A link's own read limit, as MoneyKit counts it: at most `limit` reads in any 60 s (a sliding log, Redis's clock).
-- KEYS: the log (sorted set of admitted reads' ms) of one endpoint on one link.
-- ARGV: limit, window ms, a member unique to this read.
-- Returns ms to wait (0 = go: the read is logged).
local t = redis.call('TIME')
local now = t[1] * 1000 + math.floor(t[2] / 1000)
local limit, window = tonumber(ARGV[1]), tonumber(ARGV[2])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - window)
if redis.call('ZCARD', KEYS[1]) < limit then
  redis.call('ZADD', KEYS[1], now, ARGV[3])
  redis.call('PEXPIRE', KEYS[1], window)
  return 0
end
local oldest = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
return math.max(1, tonumber(oldest[2]) + window - now + 1)
