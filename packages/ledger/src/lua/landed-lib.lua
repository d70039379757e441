-- The layout of a run's landed records (landed.ts says why), shared by landed.lua and landed-read.lua.
-- One hash, grown by linear hashing so that every bucket stays a few KB at any run size:
--   '~'       '<level> <split> <bytes>': buckets are 2^level + split; bytes, the sum of their lengths
--   <bucket>  connection records back to back: 8 B connection id, 2 B account count, then per account
--             4 B account key, 4 B entry count, 8 B sum of landed micro-units (big-endian double), 6 B per entry
-- A connection's bucket is its id's first 4 bytes (big-endian) mod 2^level, or mod 2^(level+1) below the split.
local LANDED_META = '~'

local function landedMeta(key)
  local meta = redis.call('HGET', key, LANDED_META)
  if not meta then return 0, 0, 0 end
  local level, split, bytes = string.match(meta, '^(%d+) (%d+) (%d+)$')
  return tonumber(level), tonumber(split), tonumber(bytes)
end

local function landedBucket(conn, level, split)
  local h = struct.unpack('>I4', conn)
  local n = 2 ^ level
  local bucket = h % n
  if bucket < split then bucket = h % (2 * n) end
  return bucket
end

-- Where the connection record starting at `at` ends (exclusive).
local function landedRecordEnd(value, at)
  local p = at + 10
  for _ = 1, struct.unpack('>I2', value, at + 8) do
    p = p + 16 + 6 * struct.unpack('>I4', value, p + 4)
  end
  return p
end

-- The start and end (exclusive) of `conn`'s record in a bucket's value, or nil.
local function landedFind(value, conn)
  local at = 1
  while at <= #value do
    local stop = landedRecordEnd(value, at)
    if string.sub(value, at, at + 7) == conn then return at, stop end
    at = stop
  end
end
