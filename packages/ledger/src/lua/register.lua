-- Registers a user's connections as pending, atomically with the state counts.
-- KEYS: conns, counts, open (field → job id of every open record).
-- ARGV: json array of [field, record json], job id ('' = none).
-- Adds records that do not exist yet. With a job id, an existing record still open is moved to that job (a resumed
-- or retried line is carried by the job enqueued now); settled records are left as they are.
-- Returns how many records were added.
local job = ARGV[2]
local added = 0
for _, pair in ipairs(cjson.decode(ARGV[1])) do
  if redis.call('HSETNX', KEYS[1], pair[1], pair[2]) == 1 then
    redis.call('HINCRBY', KEYS[2], 'pending', 1)
    redis.call('HSET', KEYS[3], pair[1], job)
    added = added + 1
  elseif job ~= '' then
    local rec = cjson.decode(redis.call('HGET', KEYS[1], pair[1]))
    if (rec.state == 'pending' or rec.state == 'importing' or rec.state == 'linked') and rec.job ~= job then
      rec.job = job
      redis.call('HSET', KEYS[1], pair[1], cjson.encode(rec))
      redis.call('HSET', KEYS[3], pair[1], job)
    end
  end
end
return added
