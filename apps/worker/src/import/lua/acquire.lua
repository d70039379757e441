-- The import limiter's GCRA: takes the next slot if it has come, on Redis's clock.
-- KEYS: theoretical arrival time (ms). ARGV: interval ms.
-- Returns ms to wait (0 = go: the slot is taken).
local t = redis.call('TIME')
local now = t[1] * 1000 + math.floor(t[2] / 1000)
local interval = tonumber(ARGV[1])
local tat = tonumber(redis.call('GET', KEYS[1]) or '0')
if tat < now then tat = now end
if tat - now > 0 then return tat - now end
redis.call('SET', KEYS[1], tat + interval, 'PX', interval * 2 + 60000)
return 0
