-- The dispatched links' jobs are still in the queue: their short hand-over lease becomes the long one (a safety net
-- for a job lost later). A link whose score changed since (its job already settled it, or an operator acted) is left
-- as it is.
-- KEYS: top. ARGV: base, leaseMs, then per link: id, bucket, hand-over lease end ms
-- Returns how many leases were extended.
local top, base, lease = KEYS[1], ARGV[1], tonumber(ARGV[2])
local now = now_ms()
local extended, touched = 0, {}
for i = 3, #ARGV, 3 do
  local link, bucket, handover = ARGV[i], ARGV[i + 1], ARGV[i + 2]
  local ik = base .. 'd:' .. bucket
  local score = redis.call('ZSCORE', ik, link)
  if score and tonumber(score) == tonumber(handover) then
    redis.call('ZADD', ik, now + lease, link)
    extended = extended + 1
    touched[bucket] = ik
  end
end
for bucket, ik in pairs(touched) do touch_top(top, ik, bucket) end
return extended
