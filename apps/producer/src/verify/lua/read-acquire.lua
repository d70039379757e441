-- A GCRA slot for one MoneyKit read, on Redis's clock (the import limiter's rule, for reads: evenly spaced, no burst).
-- KEYS: theoretical arrival time (ms) of this limit (the app's reads, or one link's reads of one endpoint).
-- ARGV: interval ms.
-- Returns ms to wait (0 = go: the slot is taken).
local t = redis.call('TIME')
local now = t[1] * 1000 + math.floor(t[2] / 1000)
local interval = tonumber(ARGV[1])
local tat = tonumber(redis.call('GET', KEYS[1]) or '0')
if tat < now then tat = now end
if tat - now > 0 then return tat - now end
redis.call('SET', KEYS[1], tat + interval, 'PX', interval * 2 + 60000)
return 0
