-- Records the transactions of one call as landed on a connection's link, once (layout: landed-lib.lua).
-- KEYS: landed (hash).
-- ARGV: connection id (8 B), then per account: its key (4 B), its field in the layout
--       before buckets (one hash field per account: an 8 B sum, then 8 B entries of 6 B id and 2 B content hash),
--       converted when met, its entries (n × 7 B, may be empty: the account exists, nothing on it yet), the sum of
--       their amounts in micro-units.
-- An account that already holds the call's first entry (on an entry boundary) is left as it is: the same landing
-- recorded twice (two workers settling one lost call) counts once.
-- Returns the number of entries added.
local key, conn = KEYS[1], ARGV[1]
local level, split, bytes = landedMeta(key)
local bucket = tostring(landedBucket(conn, level, split))
local value, chunks = landedGet(key, bucket)
local at, stop = landedFind(value, conn)

local accounts, order = {}, {}
if at then
  local p = at + 10
  for _ = 1, struct.unpack('>I2', value, at + 8) do
    local count = struct.unpack('>I4', value, p + 4)
    local account = { sum = struct.unpack('>d', value, p + 8), entries = string.sub(value, p + 16, p + 15 + LANDED_ENTRY * count) }
    accounts[string.sub(value, p, p + 3)] = account
    order[#order + 1] = string.sub(value, p, p + 3)
    p = p + 16 + LANDED_ENTRY * count
  end
end

local added, changed = 0, false
for i = 2, #ARGV, 4 do
  local accountKey, oldField, entries, sum = ARGV[i], ARGV[i + 1], ARGV[i + 2], tonumber(ARGV[i + 3])
  local account = accounts[accountKey]
  if not account then
    account = { sum = 0, entries = '' }
    local old = redis.call('HGET', key, oldField)
    if old then
      local parts = {}
      for q = 9, #old - 7, 8 do
        parts[#parts + 1] = string.sub(old, q, q + 4) .. string.sub(old, q + 6, q + 7)
      end
      account.sum, account.entries = struct.unpack('>d', old), table.concat(parts)
      redis.call('HDEL', key, oldField)
    end
    accounts[accountKey] = account
    order[#order + 1] = accountKey
    changed = true
  end
  if #entries > 0 then
    local first, from, seen = string.sub(entries, 1, LANDED_ENTRY), 1, false
    while true do
      local found = string.find(account.entries, first, from, true)
      if not found then break end
      if (found - 1) % LANDED_ENTRY == 0 then
        seen = true
        break
      end
      from = found + 1
    end
    if not seen then
      account.sum = account.sum + sum
      account.entries = account.entries .. entries
      added = added + #entries / LANDED_ENTRY
      changed = true
    end
  end
end
if not changed then return 0 end

local parts = { conn, struct.pack('>I2', #order) }
for _, accountKey in ipairs(order) do
  local account = accounts[accountKey]
  parts[#parts + 1] = accountKey .. struct.pack('>I4d', #account.entries / LANDED_ENTRY, account.sum) .. account.entries
end
local record = table.concat(parts)
local updated = at and (string.sub(value, 1, at - 1) .. record .. string.sub(value, stop)) or (value .. record)
landedPut(key, bucket, updated, chunks, at or (#value + 1))
bytes = bytes + #updated - #value

-- Linear hashing: past LANDED_SPLIT_AT bytes per bucket on average, the bucket at the split point is split in two.
local n = 2 ^ level
if bytes > LANDED_SPLIT_AT * (n + split) then
  local from = tostring(split)
  local old, oldChunks = landedGet(key, from)
  local keep, move = {}, {}
  local q = 1
  while q <= #old do
    local e = landedRecordEnd(old, q)
    local part = (struct.unpack('>I4', old, q) % (2 * n) == split) and keep or move
    part[#part + 1] = string.sub(old, q, e - 1)
    q = e
  end
  landedPut(key, from, table.concat(keep), oldChunks, 1)
  landedPut(key, tostring(split + n), table.concat(move), 0, 1)
  split = split + 1
  if split == n then
    level, split = level + 1, 0
  end
end
redis.call('HSET', key, LANDED_META, string.format('%d %d %d', level, split, bytes))
return added
