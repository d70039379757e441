-- Records the transactions of one call as landed on a link's accounts, once (see landed.ts for the layout).
-- KEYS: landed (hash: account field → 8-byte header, the sum of landed amounts in micro-units as a big-endian
--       double, then one 8-byte entry per transaction).
-- ARGV: triples of account field, entries (n × 8 bytes, may be empty: the account exists, nothing on it yet),
--       sum of their amounts in micro-units.
-- An account whose value already holds the call's first entry (on an entry boundary) is left as it is: the same
-- landing recorded twice (two workers settling one lost call) counts once.
-- Returns the number of entries added.
local added = 0
for i = 1, #ARGV, 3 do
  local field, entries, sum = ARGV[i], ARGV[i + 1], tonumber(ARGV[i + 2])
  local cur = redis.call('HGET', KEYS[1], field)
  if not cur then cur = struct.pack('>d', 0) end
  local seen = false
  if #entries == 0 then
    seen = redis.call('HEXISTS', KEYS[1], field) == 1
  else
    local first = string.sub(entries, 1, 8)
    local from = 9
    while true do
      local at = string.find(cur, first, from, true)
      if not at then break end
      if (at - 9) % 8 == 0 then
        seen = true
        break
      end
      from = at + 1
    end
  end
  if not seen then
    local total = struct.unpack('>d', string.sub(cur, 1, 8)) + sum
    redis.call('HSET', KEYS[1], field, struct.pack('>d', total) .. string.sub(cur, 9) .. entries)
    added = added + #entries / 8
  end
end
return added
