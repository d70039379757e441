-- The layout of a run's landed records (landed.ts says why), shared by landed.lua and landed-read.lua.
-- One hash per shard, grown by linear hashing so that every bucket stays a few KB at any run size:
--   '~'        '<level> <split> <bytes>': buckets are 2^level + split; bytes, the sum of their lengths
--   <bucket>   connection records back to back: 8 B connection id, 2 B account count, then per account
--   <bucket>.i 4 B account key, 4 B entry count, 8 B sum of landed micro-units (big-endian double), 7 B per entry.
-- A bucket is stored in chunks of LANDED_CHUNK bytes (fields <bucket>, <bucket>.1, …; only the last one shorter): a
-- chunk fills an allocation exactly, where a value of any length would leave ~10 % of its allocation unused.
-- A connection's bucket is its id's first 4 bytes (big-endian) mod 2^level, or mod 2^(level+1) below the split.
local LANDED_META = '~'
local LANDED_ENTRY = tonumber('__LANDED_ENTRY__')
local LANDED_CHUNK = tonumber('__LANDED_CHUNK__')
-- Past this many bytes per bucket on average, the hash grows by a bucket.
local LANDED_SPLIT_AT = tonumber('__LANDED_SPLIT_AT__')

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

local function landedChunkField(bucket, i)
  if i == 0 then return bucket end
  return bucket .. '.' .. i
end

-- A bucket's whole value ('' when it has none) and how many chunks hold it.
local function landedGet(key, bucket)
  local parts = {}
  while true do
    local chunk = redis.call('HGET', key, landedChunkField(bucket, #parts))
    if not chunk then break end
    parts[#parts + 1] = chunk
    if #chunk < LANDED_CHUNK then break end
  end
  return table.concat(parts), #parts
end

-- Writes a bucket's value over the `had` chunks holding it before, from the chunk holding byte `from` on (the ones
-- before it are unchanged).
local function landedPut(key, bucket, value, had, from)
  local n = 0
  for at = 1, #value, LANDED_CHUNK do
    if at + LANDED_CHUNK > from then
      redis.call('HSET', key, landedChunkField(bucket, n), string.sub(value, at, at + LANDED_CHUNK - 1))
    end
    n = n + 1
  end
  for i = n, had - 1 do redis.call('HDEL', key, landedChunkField(bucket, i)) end
end

-- Where the connection record starting at `at` ends (exclusive).
local function landedRecordEnd(value, at)
  local p = at + 10
  for _ = 1, struct.unpack('>I2', value, at + 8) do
    p = p + 16 + LANDED_ENTRY * struct.unpack('>I4', value, p + 4)
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
