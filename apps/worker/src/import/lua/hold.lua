-- A 429: nobody goes before now + hold (the schedule resumes at its pace after, never in a burst).
-- KEYS: theoretical arrival time (ms). ARGV: hold ms.
-- Returns the ms timestamp until which every process waits.
local t = redis.call('TIME')
local now = t[1] * 1000 + math.floor(t[2] / 1000)
local until_ = now + tonumber(ARGV[1])
local tat = tonumber(redis.call('GET', KEYS[1]) or '0')
if until_ > tat then redis.call('SET', KEYS[1], until_, 'PX', tonumber(ARGV[1]) + 60000) end
return until_
