-- KEYS: meta, top. ARGV: base, timing, then per link: id, bucket, products ('!' prefix = explicit), park reason ('' = active), first-due offset ms
local meta, top, base = KEYS[1], KEYS[2], ARGV[1]
local cfg = parse_timing(ARGV[2])
local now = now_ms()
local added, updated, unchanged, removed = 0, 0, 0, 0
for i = 3, #ARGV, 5 do
  local link, bucket, prods, park, offset = ARGV[i], ARGV[i + 1], ARGV[i + 2], ARGV[i + 3], tonumber(ARGV[i + 4])
  local sk, ik, wk = base .. 's:' .. bucket, base .. 'd:' .. bucket, base .. 'w:' .. bucket
  local explicit = string.sub(prods, 1, 1) == '!'
  if explicit then prods = string.sub(prods, 2) end
  local v = redis.call('HGET', sk, link)
  if not v then
    local st = { mode = '.', reason = '0', list = {}, by = {} }
    if park ~= '' then st.mode, st.reason = 'p', park end
    for c in string.gmatch(prods, '%a') do
      local p = { c = c, s = '-' }
      st.list[#st.list + 1] = p
      st.by[c] = p
    end
    -- a state-change webhook that arrived before the registration (e.g. a retried import) decides
    local seen = redis.call('HGET', wk, link)
    if seen then
      local mark, why = string.sub(seen, 1, 1), string.sub(seen, 2, 2)
      if mark == 'r' then st.mode, st.reason, offset = '.', '0', 0 end
      if mark == 'p' then st.mode, st.reason = 'p', why end
      if mark == 'x' then st.mode, st.reason, st.list, st.by = 'x', why, {}, {} end
    end
    redis.call('HSET', sk, link, encode(st))
    if st.mode == 'x' then
      redis.call('HINCRBY', meta, 'removed', 1)
      removed = removed + 1
    else
      redis.call('HINCRBY', meta, 'links', 1)
    end
    if st.mode == 'x' then
      -- deleted before we ever saw it: a tombstone, nothing to schedule
    elseif st.mode == 'p' then
      redis.call('HINCRBY', meta, 'parked', 1)
    else
      redis.call('ZADD', ik, now + offset, link)
      touch_top(top, ik, bucket)
    end
    if st.mode ~= 'x' then added = added + 1 end
  else
    local st = decode(v)
    if st.mode == 'x' then
      removed = removed + 1
    elseif explicit then
      -- an existing link keeps its schedule, quota times and parked state: only its wanted products change
      local want, list, by = {}, {}, {}
      for c in string.gmatch(prods, '%a') do want[c] = true end
      for _, p in ipairs(st.list) do
        if want[p.c] then list[#list + 1] = p; by[p.c] = p end
      end
      for c in string.gmatch(prods, '%a') do
        if not by[c] then
          local p = { c = c, s = '-' }
          list[#list + 1] = p
          by[c] = p
        end
      end
      st.list, st.by = list, by
      local nv = encode(st)
      if nv ~= v then
        redis.call('HSET', sk, link, nv)
        if st.mode == '.' then
          local due = link_due(st, cfg)
          if due then
            redis.call('ZADD', ik, 'LT', due, link)
          else
            redis.call('ZREM', ik, link)
          end
          touch_top(top, ik, bucket)
        end
        updated = updated + 1
      else
        unchanged = unchanged + 1
      end
    else
      unchanged = unchanged + 1
    end
  end
end
return { added, updated, unchanged, removed }
