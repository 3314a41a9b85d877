-- apply.lua applies a batch of changes, in order, exactly once by change id.
-- ARGV[6]: the dedupe window in days; ARGV[7]: how far ahead of the index's
-- clock a change's time may be, in seconds; then 14 values per change:
--   id, its remembered-id field (see findid), digest, the digest packed
--   (packDigest), customer, balance hash, points,
--   time (unix seconds of the purchase; 0 when the content carries no time
--   that bounds when the change was first applied),
--   mode ('f': the balance is floored at zero; 's': strict, refused when the
--   balance is short), dedupe part, checked mark (-1: the ledger was not
--   searched; else the shipped mark it was searched at), change JSON,
--   season ('' for none: the season board the change also moves, floored
--   at zero on its own), and when that season board's keys expire (unix).
-- It answers a header 'H <generation> <clock>' and then, per change:
--   'N seq delta balance unix' applied, 'R ... points' a replay (the
--   original's values and requested points), 'C ...' the same id with other
--   content, 'I balance' strict and
--   short, 'E reason' refused, or 'L shipped': the index may have forgotten
--   the id: nothing after it was attempted; search the ledger, then send it
--   again checked at 'shipped'.
--
-- The rule (clocks may disagree; none of it trusts the sender's clock): a
-- change is refused if its time T is more than `ahead` past the index's
-- clock. An applied id is remembered in the hash of its memory day, the day
-- of the later of T and the index's clock when applied, and the hash lives
-- until the window's days after that day have passed. Every day from the
-- window's first to the latest memory day an id was written to (iddays; in
-- format 1, to the latest a memory day can be now) is searched. An id
-- not found whose T is on or after the window's first day was never
-- applied (its memory day would be searched); one timed earlier, or with no
-- time, may have been forgotten: the ledger decides.
local win, ahead = tonumber(ARGV[6]), tonumber(ARGV[7])
local now, real = clock()
local today = math.floor(now / DAY)
local first = today - win
local forget = first * DAY
local last = math.floor((now + ahead) / DAY)
local seqk, logk, shipk, clockk = P .. ':seq', P .. ':log', P .. ':shipped', P .. ':clock'
has(seqk); has(logk); has(shipk)
local seq0 = tonumber(redis.call('GET', seqk) or '0')
local seq = seq0
local h = newhist()
local bals = {}
local seasons = {} -- season -> {h = histogram batch, bals = balances, B = prefix, exp = expiry}
local ids = {}
local writes = {}
local out = {'H ' .. GEN .. ' ' .. now}
local covered = {}
local fmt, fresh = idformat()
local days, aheadday, aheadknown = iddays(today, win, last, fmt == 2)
local aheadk = P .. ':o:ahead'
local maxday = aheadday

-- covers reports whether the ledger held every change the index forgot when
-- the shipped mark was s: the first change after s is still remembered.
local function covers(s)
  if covered[s] == nil then
    local ok = true
    if s < seq0 then
      local e = redis.call('XRANGE', logk, '(' .. s .. '-0', '+', 'COUNT', 1)
      ok = false
      if #e == 1 and e[1][1] == (s + 1) .. '-0' then
        ok = tonumber(logentry(e[1][2]).t) >= forget
      end
    end
    covered[s] = ok
  end
  return covered[s]
end

for i = 8, #ARGV, 14 do
  local id, fid, dig, pdig, cust, bk = ARGV[i], ARGV[i + 1], ARGV[i + 2], ARGV[i + 3], ARGV[i + 4], ARGV[i + 5]
  local pts, t, mode, part = tonumber(ARGV[i + 6]), tonumber(ARGV[i + 7]), ARGV[i + 8], ARGV[i + 9]
  local mark = tonumber(ARGV[i + 10])
  local fdig, frec
  local f = ids[id]
  if f then
    fdig, frec = f[1], f[2]
  else
    for _, pre in ipairs(days) do
      local k = pre .. part
      if has(k) then
        fdig, frec = findid(k, fid, id)
        if fdig then break end
      end
    end
  end
  if fdig then
    if fdig == dig then
      out[#out + 1] = 'R ' .. frec
    else
      out[#out + 1] = 'C ' .. frec
    end
  elseif t > now + ahead then
    out[#out + 1] = 'E the time of purchase is more than ' .. ahead .. ' seconds ahead of the index clock'
  elseif (t == 0 or t < forget) and (mark < 0 or not covers(mark)) then
    out[#out + 1] = 'L ' .. (redis.call('GET', shipk) or '0')
    break
  else
    local b = entry(bals, G .. ':b:' .. bk, cust)
    local old = b[3]
    local new = old + pts
    if mode == 's' and new < 0 then
      out[#out + 1] = 'I ' .. old
    elseif new > MAXP then
      out[#out + 1] = 'E the balance would exceed ' .. MAXP .. ' points'
    else
      if new < 0 then new = 0 end
      b[3] = new
      h.move(old, new)
      seq = seq + 1
      local sname, sd, sb = ARGV[i + 12], 0, 0
      if sname ~= '' then
        local sn = seasonboard(seasons, sname)
        sn.exp = tonumber(ARGV[i + 13])
        local before
        sb, before = addto(sn.h, sn.bals, sn.B, cust, bk, pts)
        sd = sb - before
      end
      local md = math.floor(math.max(now, t) / DAY)
      local ok = P .. ':o:' .. md .. ':' .. part
      if md <= today then ok = days[#days - (md - first)] .. part end
      if md > maxday then maxday = md end
      has(ok)
      local rec = seq .. ' ' .. (new - old) .. ' ' .. new .. ' ' .. now
      ids[id] = {dig, rec .. ' ' .. pts}
      local field, value = idrecord(fmt, id, fid, dig, pdig, seq, new - old, new, now, pts)
      writes[#writes + 1] = {ok, field, value, seq .. '-0', logfields(fmt, cust, bk, new - old, new, now, sname, sd, sb, ARGV[i + 11]),
        (md + win + 1) * DAY - real}
      out[#out + 1] = 'N ' .. rec
    end
  end
end
if #missing > 0 then return retry() end
if #writes == 0 then return out end
h.write()
setbals(bals)
writeseasons(seasons)
for _, sn in pairs(seasons) do
  -- A season board lives until its expiry (a few seasons after it ends).
  local keys = {sn.B .. ':h1', sn.B .. ':n', sn.B .. ':top', sn.B .. ':topmin'}
  for b in pairs(sn.h.l2) do keys[#keys + 1] = sn.B .. ':h2:' .. b end
  for _, x in pairs(sn.bals) do keys[#keys + 1] = x[1] end
  for _, k in ipairs(keys) do redis.call('EXPIREAT', k, sn.exp) end
end
local expiring = {}
for _, w in ipairs(writes) do
  redis.call('HSET', w[1], w[2], w[3])
  if not expiring[w[1]] then
    redis.call('EXPIRE', w[1], w[6])
    expiring[w[1]] = true
  end
  redis.call('XADD', logk, w[4], unpack(w[5]))
end
redis.call('SET', seqk, seq)
keepformat(fresh)
if maxday ~= aheadday or not aheadknown then redis.call('SET', aheadk, maxday) end
if now == real then redis.call('SET', clockk, now) end
return out
