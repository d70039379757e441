-- The notifier is done with one outbox event: delivered (removed) or given up on (moved to the dead letters).
-- KEYS: outbox, retry state hash (entry id → attempts, first and next attempt), dead letters stream.
-- ARGV: entry id, 'delivered' | 'dead', why (dead only).
-- One step, so a notifier killed half-way never both keeps and dead-letters an event.
-- Returns 1 when the entry was still there, 0 when another notifier had settled it.
local entry = redis.call('XRANGE', KEYS[1], ARGV[1], ARGV[1])
redis.call('HDEL', KEYS[2], ARGV[1])
if #entry == 0 then return 0 end
if ARGV[2] == 'dead' then
  local fields = entry[1][2]
  table.insert(fields, 'why')
  table.insert(fields, ARGV[3])
  redis.call('XADD', KEYS[3], '*', unpack(fields))
end
redis.call('XDEL', KEYS[1], ARGV[1])
return 1
