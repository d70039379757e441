-- Takes or renews the notifier's lease: one process delivers at a time, so each link's events go out in order.
-- KEYS: lease key. ARGV: token (this process), lease ms.
-- Returns 1 when this process holds the lease now (taken or renewed), 0 when another holds it.
local v = redis.call('GET', KEYS[1])
if v and v ~= ARGV[1] then return 0 end
redis.call('SET', KEYS[1], ARGV[1], 'PX', tonumber(ARGV[2]))
return 1
