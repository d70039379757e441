-- Moves due links out of the due index: each is leased for the hand-over (re-due after handOverMs unless confirm.lua
-- saw its job queued, or it settled first) and returned with the products due together.
-- KEYS: top, meta. ARGV: base, timing, batch, handOverMs
-- Returns a flat list: link, bucket, product codes, due-at ms, hand-over lease end ms, ...
local top, meta, base = KEYS[1], KEYS[2], ARGV[1]
local cfg = parse_timing(ARGV[2])
local batch, lease = tonumber(ARGV[3]), tonumber(ARGV[4])
local now = now_ms()
local out, n, grouped = {}, 0, 0
local buckets = redis.call('ZRANGEBYSCORE', top, '-inf', now, 'LIMIT', 0, batch)
for _, bucket in ipairs(buckets) do
  if n >= batch then break end
  local sk, ik = base .. 's:' .. bucket, base .. 'd:' .. bucket
  local due_links = redis.call('ZRANGEBYSCORE', ik, '-inf', now, 'WITHSCORES', 'LIMIT', 0, batch - n)
  for j = 1, #due_links, 2 do
    local link, score = due_links[j], tonumber(due_links[j + 1])
    local v = redis.call('HGET', sk, link)
    local st = v and decode(v)
    if not st or st.mode ~= '.' then
      redis.call('ZREM', ik, link)
    else
      -- products due now, how long the earliest of them may wait for the others, and when the others come due
      local codes, deadline, soon = '', nil, {}
      for _, p in ipairs(st.list) do
        local d = product_due(p, cfg)
        if d and d <= now then
          codes = codes .. p.c
          local dl = d + cfg[p.c].defer
          if not deadline or dl < deadline then deadline = dl end
        elseif d then
          soon[#soon + 1] = d
        end
      end
      if codes == '' then
        local d = link_due(st, cfg)
        if d then redis.call('ZADD', ik, d, link) else redis.call('ZREM', ik, link) end
      else
        local wait = nil
        for _, d in ipairs(soon) do
          if d <= deadline and (not wait or d > wait) then wait = d end
        end
        if wait then
          -- another product comes due soon: send them together in one call
          redis.call('ZADD', ik, wait, link)
          grouped = grouped + 1
        else
          redis.call('ZADD', ik, now + lease, link)
          out[#out + 1] = link
          out[#out + 1] = bucket
          out[#out + 1] = codes
          out[#out + 1] = tostring(score)
          out[#out + 1] = tostring(now + lease)
          n = n + 1
        end
      end
    end
  end
  touch_top(top, ik, bucket)
end
if n > 0 then redis.call('HINCRBY', meta, 'dispatched', n) end
if grouped > 0 then redis.call('HINCRBY', meta, 'groupDeferrals', grouped) end
return out
