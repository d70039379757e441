-- The quota ledger's one gate: claims the products whose quota window has passed, atomically.
-- A claim marks the product in flight with a provisional reference (now + inFlightMs): until the call
-- settles, nobody else may send it, and if it never settles the claim counts as a refresh at that time.
-- KEYS: state hash, meta. ARGV: link, timing, product codes, inFlightMs
-- Returns {'ok', claimed codes, token, previous entries, due times, earliest allowed of deferred} or {'gone', mode..reason}
local sk, meta, link = KEYS[1], KEYS[2], ARGV[1]
local cfg = parse_timing(ARGV[2])
local inflight = tonumber(ARGV[4])
local now = now_ms()
local v = redis.call('HGET', sk, link)
if not v then return { 'gone', '' } end
local st = decode(v)
if st.mode ~= '.' then return { 'gone', st.mode .. st.reason } end
local token = now + inflight
local claimed, prev, dues, deferred, later = '', {}, {}, 0, nil
for c in string.gmatch(ARGV[3], '%a') do
  local p = st.by[c]
  if p and not stopped(p) then
    local allowed = p.t and (p.t + cfg[c].allow) or 0
    if allowed <= now then
      claimed = claimed .. c
      prev[#prev + 1] = p.s .. (p.t and enc_time(p.t) or '')
      dues[#dues + 1] = tostring(product_due(p, cfg))
      p.s, p.t = 'i', token
    else
      deferred = deferred + 1
      if not later or allowed < later then later = allowed end
    end
  end
end
if claimed ~= '' then redis.call('HSET', sk, link, encode(st)) end
if deferred > 0 then redis.call('HINCRBY', meta, 'quotaDeferrals', deferred) end
return { 'ok', claimed, tostring(token), table.concat(prev, ','), table.concat(dues, ','), later and tostring(later) or '' }
