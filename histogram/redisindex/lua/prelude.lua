-- prelude.lua is the start of every index script (scripts.go joins it to
-- each). KEYS[1] is always "{P}:gen"; every key a script touches must be in
-- KEYS. A script first plans (reads only), then writes: when the plan needs a
-- key the caller did not pass, it writes nothing and answers
-- {'RETRY', generation, clock, key...}; the caller passes those keys too and
-- calls again.
-- ARGV[1..5] are the constants the Go side owns: bucket width, number of
-- buckets, the largest balance, seconds in a day, the top list's capacity.
local W, NB, MAXP, DAY, TOPCAP = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4]), tonumber(ARGV[5])
local P = string.sub(KEYS[1], 1, -5)
local GEN = redis.call('GET', KEYS[1]) or '1'
local G = P .. ':g' .. GEN
local declared = {}
for i = 1, #KEYS do declared[KEYS[i]] = true end
local missing = {}
local missed = {}

-- has reports whether key k was passed; if not, it is noted for the retry.
local function has(k)
  if declared[k] then return true end
  if not missed[k] then
    missed[k] = true
    missing[#missing + 1] = k
  end
  return false
end

-- clock returns the index's clock: Redis's TIME, never behind the largest
-- time an earlier call saw ({P}:clock), so days never go backwards after a
-- failover to a server whose clock is behind. The second value is TIME.
local function clock()
  local real = tonumber(redis.call('TIME')[1])
  local now = real
  if has(P .. ':clock') then
    local c = tonumber(redis.call('GET', P .. ':clock') or '0')
    if c > now then now = c end
  end
  return now, real
end

local function retry()
  local r = {'RETRY', GEN, tostring(clock())}
  for _, k in ipairs(missing) do r[#r + 1] = k end
  return r
end

-- balance returns customer cust's balance in hash key hk (0 if undeclared:
-- the call will be retried anyway).
local function balance(hk, cust)
  if not has(hk) then return 0 end
  return tonumber(redis.call('HGET', hk, cust) or '0')
end

-- A histogram batch collects the net Fenwick updates of many moves and
-- writes each touched tree with one BITFIELD.
local function path(t, i, n, d)
  while i <= n do
    t[i] = (t[i] or 0) + d
    i = i + bit.band(i, -i)
  end
end

-- newhist returns a batch of histogram updates for board B (a key prefix:
-- G for the all-time board, G .. ':s:' .. season for a season board).
-- cross adds -1 along index i's path of tree t (n cells) and +1 along
-- j's: once the two paths meet they are the same path, and the rest cancels.
local function cross(t, i, j, n)
  while i ~= j and i <= n and j <= n do
    if i < j then
      t[i] = (t[i] or 0) - 1
      i = i + bit.band(i, -i)
    else
      t[j] = (t[j] or 0) + 1
      j = j + bit.band(j, -j)
    end
  end
  if i ~= j then
    path(t, i, n, -1)
    path(t, j, n, 1)
  end
end

local function newhist(B)
  B = B or G
  local h = {l1 = {}, l2 = {}, n = 0, B = B}
  -- tree returns the updates of score bucket b's tree (Fenwick index b).
  local function tree(b)
    local t = h.l2[b]
    if not t then
      has(B .. ':h2:' .. b)
      t = {}
      h.l2[b] = t
    end
    return t
  end
  -- add adds d customers at score s (s >= 1).
  function h.add(s, d)
    local b = math.floor(s / W) + 1
    path(h.l1, b, NB, d)
    path(tree(b), (s % W) + 1, W, d)
  end
  -- move moves one customer from score a to score c (0: not ranked). Most
  -- moves stay in one score bucket: the bucket tree is then untouched.
  function h.move(a, c)
    if a == c then return end
    if a > 0 and c > 0 then
      local ba, bc = math.floor(a / W) + 1, math.floor(c / W) + 1
      if ba == bc then
        cross(tree(ba), (a % W) + 1, (c % W) + 1, W)
      else
        cross(h.l1, ba, bc, NB)
        path(tree(ba), (a % W) + 1, W, -1)
        path(tree(bc), (c % W) + 1, W, 1)
      end
      return
    end
    if a > 0 then h.add(a, -1) else h.n = h.n + 1 end
    if c > 0 then h.add(c, 1) else h.n = h.n - 1 end
  end
  local function flush(key, t)
    local args
    for i, d in pairs(t) do
      if d ~= 0 then
        if not args then args = {'BITFIELD', key} end
        args[#args + 1] = 'INCRBY'; args[#args + 1] = 'i32'; args[#args + 1] = '#' .. (i - 1); args[#args + 1] = d
      end
    end
    if args then redis.call(unpack(args)) end
  end
  -- write writes the collected updates (call only when nothing is missing).
  function h.write()
    flush(B .. ':h1', h.l1)
    for b, t in pairs(h.l2) do flush(B .. ':h2:' .. b, t) end
    if h.n ~= 0 then redis.call('INCRBY', B .. ':n', h.n) end
  end
  has(B .. ':h1')
  has(B .. ':n')
  has(B .. ':top')
  has(B .. ':topmin')
  return h
end

-- setbals writes final balances of board B (default G): bals maps "hk cust"
-- to {hk, cust, points, points before}. It keeps the board's top list: the
-- sorted set B:top holds every customer with at least G:topmin points (a customer
-- with more points is never missing from it) and at most TOPCAP of them;
-- when it grows past TOPCAP, B:topmin rises past the lowest score in it.
local function setbals(bals, B)
  B = B or G
  local topk, mink = B .. ':top', B .. ':topmin'
  local min = tonumber(redis.call('GET', mink) or '1')
  local grew = false
  for _, v in pairs(bals) do
    if v[3] > 0 then
      redis.call('HSET', v[1], v[2], v[3])
    else
      redis.call('HDEL', v[1], v[2])
    end
    if v[3] >= min and v[3] > 0 then
      if redis.call('ZADD', topk, v[3], v[2]) == 1 then grew = true end
    elseif v[4] >= min and v[4] > 0 then
      redis.call('ZREM', topk, v[2])
    end
  end
  if grew and redis.call('ZCARD', topk) > TOPCAP then
    local low = redis.call('ZRANGE', topk, 0, 0, 'WITHSCORES')
    min = tonumber(low[2]) + 1
    redis.call('ZREMRANGEBYSCORE', topk, '-inf', '(' .. min)
    redis.call('SET', mink, min)
  end
end

-- atmost returns the customers with at most s points: the bucket tree's
-- prefix sum before s's bucket (the approximate rank), then the bucket's
-- own tree up to s (exact), on board B (default G). Its keys must have been
-- checked with has().
local function atmost(s, B)
  B = B or G
  local b = math.floor(s / W) + 1
  local n = 0
  local args = {'BITFIELD_RO', B .. ':h1'}
  local i = b - 1
  while i > 0 do
    args[#args + 1] = 'GET'; args[#args + 1] = 'i32'; args[#args + 1] = '#' .. (i - 1)
    i = i - bit.band(i, -i)
  end
  if #args > 2 then
    for _, v in ipairs(redis.call(unpack(args))) do n = n + v end
  end
  args = {'BITFIELD_RO', B .. ':h2:' .. b}
  i = (s % W) + 1
  while i > 0 do
    args[#args + 1] = 'GET'; args[#args + 1] = 'i32'; args[#args + 1] = '#' .. (i - 1)
    i = i - bit.band(i, -i)
  end
  for _, v in ipairs(redis.call(unpack(args))) do n = n + v end
  return n
end

-- entry returns customer cust's entry {hk, cust, points, points before} in
-- the balances sbals of a batch (see setbals), reading it on first use.
local function entry(sbals, hk, cust)
  local key = hk .. ' ' .. cust
  local b = sbals[key]
  if not b then
    local v0 = balance(hk, cust)
    b = {hk, cust, v0, v0}
    sbals[key] = b
  end
  return b
end

-- addto adds d to customer cust's balance (hash bk) on board B, floored at
-- zero and capped at MAXP, in the batch sh with balances sbals (see
-- setbals). It returns the balance after and before.
local function addto(sh, sbals, B, cust, bk, d)
  local b = entry(sbals, B .. ':b:' .. bk, cust)
  local prev = b[3]
  local v = math.min(math.max(prev + d, 0), MAXP)
  sh.move(prev, v)
  b[3] = v
  return v, prev
end

-- seasonboard returns the batch of season board name in seasons, creating
-- it: {h = histogram batch, bals = balances, B = key prefix}.
local function seasonboard(seasons, name)
  local sn = seasons[name]
  if not sn then
    sn = {h = newhist(G .. ':s:' .. name), bals = {}, B = G .. ':s:' .. name}
    seasons[name] = sn
  end
  return sn
end

-- addlogged adds a logged change to generation G's batch (histogram h,
-- balances bals) and the season boards' batches seasons: delta d to
-- customer cust (balance hash bk), and season delta sd on the board of
-- season sname ('' or nil for none). Each board is floored at zero.
local function addlogged(h, bals, seasons, cust, bk, d, sname, sd)
  addto(h, bals, G, cust, bk, tonumber(d))
  if sname and sname ~= '' then
    local sn = seasonboard(seasons, sname)
    addto(sn.h, sn.bals, sn.B, cust, bk, tonumber(sd))
  end
end

-- writeseasons writes the season boards' batches.
local function writeseasons(seasons)
  for _, sn in pairs(seasons) do
    sn.h.write()
    setbals(sn.bals, sn.B)
  end
end

-- A change-log entry (stream ID "<seq>-0") in format 2 (idformat) has two
-- fields: e = "customer balance-hash delta balance unix" and, with a
-- season, " season season-delta season-balance"; c = the change's JSON. In
-- format 1 it carries the same values as fields u k b d t [s sd sb] c.
-- logentry returns an entry's values by those names.
local lognames = {'u', 'k', 'd', 'b', 't', 's', 'sd', 'sb'}
local function logentry(f)
  local v = {}
  for j = 1, #f, 2 do
    if f[j] == 'e' then
      local n = 0
      for w in string.gmatch(f[j + 1], '%S+') do
        n = n + 1
        v[lognames[n]] = w
      end
    else
      v[f[j]] = f[j + 1]
    end
  end
  return v
end

-- Remembered change ids ({P}:o:<day>:<part>): field = a 10-byte hash of
-- the id (Go's idField), value = the digest packed by Go (packDigest: a zero
-- byte and 8 bytes, or the varint n and n-1 bytes of text) and then
-- varints: seq, delta, balance, unix, points (delta and points
-- zigzag-encoded). In format 1 (idformat) a hash holds field = the id and
-- value = the text "digest seq delta balance unix points"; both are read
-- (HMGET).
local function varints(...)
  local b = {}
  for _, n in ipairs({...}) do
    while n >= 128 do
      b[#b + 1] = n % 128 + 128
      n = math.floor(n / 128)
    end
    b[#b + 1] = n
  end
  return string.char(unpack(b))
end

-- varint returns the varint at byte i of s and the byte after it.
local function varint(s, i)
  local x, m = 0, 1
  repeat
    local c = string.byte(s, i)
    i = i + 1
    x = x + (c % 128) * m
    m = m * 128
  until c < 128
  return x, i
end

local function zigzag(n)
  if n < 0 then return -2 * n - 1 end
  return 2 * n
end

local function unzigzag(n)
  if n % 2 == 1 then return -(n + 1) / 2 end
  return n / 2
end

-- packrec returns the remembered record of a change.
local function packrec(pdig, seq, delta, bal, unix, pts)
  return pdig .. varints(seq, zigzag(delta), bal, unix, zigzag(pts))
end

-- unpackrec returns the digest (text) of record r and the rest as text
-- "seq delta balance unix points".
local function unpackrec(r)
  local n, i = varint(r, 1)
  local dig
  if n == 0 then
    local x = {}
    for j = i, i + 7 do x[#x + 1] = string.format('%02x', string.byte(r, j)) end
    dig, i = table.concat(x), i + 8
  else
    dig, i = string.sub(r, i, i + n - 2), i + n - 1
  end
  local v = {}
  while i <= #r do
    v[#v + 1], i = varint(r, i)
  end
  return dig, v[1] .. ' ' .. unzigzag(v[2]) .. ' ' .. v[3] .. ' ' .. v[4] .. ' ' .. unzigzag(v[5])
end

-- The formats remembered ids and log entries are written in ({P}:format;
-- both forms are always read): absent or '1' the text formats, as versions
-- before the compact ones wrote them and the only ones they read (the id as
-- the field with the text record; log entries u k b d t [s sd sb] c); '2'
-- the compact ones (idField and packrec; log entries e and c). An operator
-- sets 2 once every process reads it (Index.SetFormat). A board never
-- written ({P}:seq and {P}:format absent) holds nothing an earlier version
-- wrote: it is at 2 from its first write. idformat returns the format and
-- whether the board is fresh (the write must then set {P}:format).
local function idformat()
  has(P .. ':format')
  local f = redis.call('GET', P .. ':format')
  if f then return tonumber(f), false end
  has(P .. ':seq')
  if redis.call('EXISTS', P .. ':seq') == 0 then return 2, true end
  return 1, false
end

-- keepformat sets {P}:format of a fresh board (idformat) as it is written.
local function keepformat(fresh)
  if fresh then redis.call('SET', P .. ':format', '2') end
end

-- idrecord returns the field and record change id is remembered under in
-- format fmt (fid its idField, pdig its packed digest): 1, the id and the
-- text "digest seq delta balance unix points"; 2, fid and packrec's record.
local function idrecord(fmt, id, fid, dig, pdig, seq, delta, bal, unix, pts)
  if fmt == 1 then return id, dig .. ' ' .. seq .. ' ' .. delta .. ' ' .. bal .. ' ' .. unix .. ' ' .. pts end
  return fid, packrec(pdig, tonumber(seq), tonumber(delta), tonumber(bal), tonumber(unix), tonumber(pts))
end

-- logfields returns the fields of a change's log entry in format fmt (see
-- logentry; sname '' for no season).
local function logfields(fmt, cust, bk, delta, bal, unix, sname, sd, sb, js)
  if fmt == 1 then
    if sname == '' then return {'u', cust, 'k', bk, 'b', bal, 'd', delta, 't', unix, 'c', js} end
    return {'u', cust, 'k', bk, 'b', bal, 'd', delta, 't', unix, 's', sname, 'sd', sd, 'sb', sb, 'c', js}
  end
  local e = cust .. ' ' .. bk .. ' ' .. delta .. ' ' .. bal .. ' ' .. unix
  if sname ~= '' then e = e .. ' ' .. sname .. ' ' .. sd .. ' ' .. sb end
  return {'e', e, 'c', js}
end

-- iddays returns the remembered-id hashes to search, newest day first, as
-- key prefixes (the part follows), the latest memory day any id was
-- written to, and whether {P}:o:ahead holds it. Every hash of a day from
-- today - win to today is searched. The later days (ids timed ahead of the
-- clock) are searched up to the latest memory day written ({P}:o:ahead,
-- kept by apply.lua) when trust is set (format 2): nearly always none, so a
-- change is looked for in win+1 hashes instead of win+3. Without that key
-- (before the first write that keeps it, or after Redis lost its data), or
-- untrusted (format 1: writers of earlier versions do not keep it), ids may
-- be in any day up to last: the latest a memory day can be now.
local function iddays(today, win, last, trust)
  has(P .. ':o:ahead')
  local v = redis.call('GET', P .. ':o:ahead')
  local a = tonumber(v or last)
  local upto = a
  if not trust then upto = math.max(a, last) end
  local out = {}
  for d = math.max(today, upto), today - win, -1 do out[#out + 1] = P .. ':o:' .. d .. ':' end
  return out, a, v ~= false
end

-- findid returns the digest and "seq delta balance unix points" of the
-- change id (field fid) remembered in hash k, or nil.
local function findid(k, fid, id)
  local v = redis.call('HMGET', k, fid, id)
  if v[1] then return unpackrec(v[1]) end
  if v[2] then
    local sp = string.find(v[2], ' ', 1, true)
    return string.sub(v[2], 1, sp - 1), string.sub(v[2], sp + 1)
  end
end
