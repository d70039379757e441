-- What landed on one connection's link (layout: landed-lib.lua).
-- KEYS: landed (hash).
-- ARGV: connection id (8 B), then the per-account fields of the layout before buckets, for the accounts asked about.
-- Returns: { the connection's record or false, then per old field its value or false }.
local key, conn = KEYS[1], ARGV[1]
local level, split = landedMeta(key)
local out = { false }
local value = landedGet(key, tostring(landedBucket(conn, level, split)))
local at, stop = landedFind(value, conn)
if at then out[1] = string.sub(value, at, stop - 1) end
for i = 2, #ARGV do
  out[i] = redis.call('HGET', key, ARGV[i])
end
return out
