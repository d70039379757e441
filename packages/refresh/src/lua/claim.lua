-- The quota ledger's one gate: claims, for each link given, the products whose quota window has passed, atomically.
-- A claim marks the product in flight with a provisional reference (now + inFlightMs): until the call
-- settles, nobody else may send it, and if it never settles the claim counts as a refresh at that time.
-- Links of one shard: a batch costs one call (its fixed cost, and the timing's parse, paid once).
-- KEYS: meta. ARGV: base, timing, inFlightMs, then per link: id, bucket, product codes
-- Returns per link 6 fields: 'ok', claimed codes, token, previous entries, due times, earliest allowed of deferred;
-- or 'gone', mode..reason, '', '', '', ''
local meta, base = KEYS[1], ARGV[1]
local cfg = parse_timing(ARGV[2])
local inflight = tonumber(ARGV[3])
local now = now_ms()
local token = now + inflight
local out, deferred = {}, 0

local function answer(a, b, c, d, e, f)
  local n = #out
  out[n + 1], out[n + 2], out[n + 3], out[n + 4], out[n + 5], out[n + 6] = a, b, c, d, e, f
end

for i = 4, #ARGV, 3 do
  local link, sk = ARGV[i], base .. 's:' .. ARGV[i + 1]
  local v = redis.call('HGET', sk, link)
  local st = v and decode(v)
  if not st then
    answer('gone', '', '', '', '', '')
  elseif st.mode ~= '.' then
    answer('gone', st.mode .. st.reason, '', '', '', '')
  else
    local claimed, prev, dues, later = '', {}, {}, nil
    for c in string.gmatch(ARGV[i + 2], '%a') do
      local p = st.by[c]
      if p and not stopped(p) then
        local allowed = p.t and (p.t + cfg[c].allow) or 0
        if allowed <= now then
          claimed = claimed .. c
          prev[#prev + 1] = p.s .. (p.raw or '')
          dues[#dues + 1] = tostring(product_due(p, cfg))
          p.s, p.t = 'i', token
        else
          deferred = deferred + 1
          if not later or allowed < later then later = allowed end
        end
      end
    end
    if claimed ~= '' then redis.call('HSET', sk, link, encode(st)) end
    answer('ok', claimed, tostring(token), table.concat(prev, ','), table.concat(dues, ','), later and tostring(later) or '')
  end
end
if deferred > 0 then redis.call('HINCRBY', meta, 'quotaDeferrals', deferred) end
return out
