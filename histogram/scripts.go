package histogram

import (
	"fmt"

	"github.com/redis/go-redis/v9"
)

// prelude is shared by every script: key names and the index primitives.
// KEYS[1] is the key prefix, hash-tagged so every key lives in one cluster slot.
var prelude = fmt.Sprintf(`
local P = KEYS[1]
local NB = %d
local W = %d
local function genkey()
  return P .. ':g' .. (redis.call('GET', P .. ':gen') or '1')
end
-- path adds d to the cells of table t on the Fenwick update path of index
-- i in a tree of n cells.
local function path(t, i, n, d)
  while i <= n do
    t[i] = (t[i] or 0) + d
    i = i + bit.band(i, -i)
  end
end
-- flush writes the non-zero cells of t to the tree at key: one BITFIELD.
local function flush(key, t)
  local args
  for i, d in pairs(t) do
    if d ~= 0 then
      if not args then args = {'BITFIELD', key} end
      args[#args+1] = 'INCRBY'; args[#args+1] = 'i32'; args[#args+1] = '#' .. (i - 1); args[#args+1] = d
    end
  end
  if args then redis.call(unpack(args)) end
end
-- move moves one customer from score a to score c (0: not ranked) in the
-- histogram of generation G. Paths that cancel are not written: a change
-- inside one bucket leaves the bucket tree alone and writes one BITFIELD.
local function move(G, a, c)
  local ba, bc = 0, 0
  if a > 0 then ba = math.floor(a / W) + 1 end
  if c > 0 then bc = math.floor(c / W) + 1 end
  if ba == bc then
    local t = {}
    path(t, (a %% W) + 1, W, -1)
    path(t, (c %% W) + 1, W, 1)
    flush(G .. ':h2:' .. ba, t)
    return
  end
  local t1 = {}
  if ba > 0 then
    path(t1, ba, NB, -1)
    local t = {}
    path(t, (a %% W) + 1, W, -1)
    flush(G .. ':h2:' .. ba, t)
  end
  if bc > 0 then
    path(t1, bc, NB, 1)
    local t = {}
    path(t, (c %% W) + 1, W, 1)
    flush(G .. ':h2:' .. bc, t)
  end
  flush(G .. ':h1', t1)
end
-- setbal moves customer cust (bucket hash bk) to balance new in generation G
-- and returns the old balance (old may be passed in when already read).
local function setbal(G, cust, bk, new, old)
  local hk = G .. ':b:' .. bk
  if old == nil then old = tonumber(redis.call('HGET', hk, cust) or '0') end
  if old == new then return old end
  move(G, old, new)
  if new > 0 then
    redis.call('HSET', hk, cust, new)
  else
    redis.call('HDEL', hk, cust)
  end
  if old == 0 then redis.call('INCR', G .. ':n') elseif new == 0 then redis.call('DECR', G .. ':n') end
  return old
end
`, Buckets, BucketWidth)

// applyScript applies a batch of changes. ARGV: dedupe window (days), then 8
// values per change: id, digest, customer, balance
// bucket, points, purchase day, dedupe part, change JSON. It returns one
// string per change: "N seq delta balance unix" (applied), "R ..." (a replay,
// the original's values), "C ..." (same id, other content) or "E reason".
var applyScript = redis.NewScript(prelude + `
local now = tonumber(redis.call('TIME')[1])
local today = math.floor(now / 86400)
local win = tonumber(ARGV[1])
local ttl = (win + 1) * 86400
local G = genkey()
local out = {}
local expiring = {}
local seq0 = tonumber(redis.call('GET', P .. ':seq') or '0')
local seq = seq0
for i = 2, #ARGV, 8 do
  local id, dig, cust, bk = ARGV[i], ARGV[i+1], ARGV[i+2], ARGV[i+3]
  local pts, pday, part, js = tonumber(ARGV[i+4]), tonumber(ARGV[i+5]), ARGV[i+6], ARGV[i+7]
  local from = today - win
  if pday > from then from = pday end
  local found
  for d = today, from, -1 do
    found = redis.call('HGET', P .. ':o:' .. d .. ':' .. part, id)
    if found then break end
  end
  if found then
    local sp = string.find(found, ' ', 1, true)
    if string.sub(found, 1, sp - 1) == dig then
      out[#out+1] = 'R ' .. string.sub(found, sp + 1)
    else
      out[#out+1] = 'C ' .. string.sub(found, sp + 1)
    end
  else
    local hk = G .. ':b:' .. bk
    local old = tonumber(redis.call('HGET', hk, cust) or '0')
    local new = old + pts
    if new < 0 then new = 0 end
    if new > ` + fmt.Sprint(MaxPoints) + ` then
      out[#out+1] = 'E balance would exceed ` + fmt.Sprint(MaxPoints) + ` points'
    else
      setbal(G, cust, bk, new, old)
      seq = seq + 1
      local rec = string.format('%d %d %d %d', seq, new - old, new, now)
      local ok = P .. ':o:' .. today .. ':' .. part
      if redis.call('HSET', ok, id, dig .. ' ' .. rec) == 1 and not expiring[ok] then
        redis.call('EXPIRE', ok, ttl)
        expiring[ok] = true
      end
      redis.call('XADD', P .. ':log', string.format('%d-0', seq), 'u', cust, 'k', bk, 'b', new, 'd', new - old, 't', now, 'c', js)
      out[#out+1] = 'N ' .. rec
    end
  end
end
if seq > seq0 then redis.call('SET', P .. ':seq', seq) end
return out
`)

// setScript sets balances in a generation (rebuild). ARGV: generation,
// "set" (absolute balances) or "add" (deltas, for catching up with the log),
// then customer, balance bucket, value triples.
var setScript = redis.NewScript(prelude + `
local G = P .. ':g' .. ARGV[1]
local add = ARGV[2] == 'add'
for i = 3, #ARGV, 3 do
  local v = tonumber(ARGV[i+2])
  if add then
    v = v + tonumber(redis.call('HGET', G .. ':b:' .. ARGV[i+1], ARGV[i]) or '0')
    if v < 0 then v = 0 end
  end
  setbal(G, ARGV[i], ARGV[i+1], v)
end
return 1
`)

// rankScript returns {customers with at most ARGV[1] points, customers
// ranked, generation} from the Redis histogram.
var rankScript = redis.NewScript(prelude + `
local gen = redis.call('GET', P .. ':gen') or '1'
local G = P .. ':g' .. gen
local s = tonumber(ARGV[1])
local b = math.floor(s / W) + 1
local n = 0
local args = {'BITFIELD_RO', G .. ':h1'}
local i = b - 1
while i > 0 do
  args[#args+1] = 'GET'; args[#args+1] = 'i32'; args[#args+1] = '#' .. (i - 1)
  i = i - bit.band(i, -i)
end
if #args > 2 then
  for _, v in ipairs(redis.call(unpack(args))) do n = n + v end
end
args = {'BITFIELD_RO', G .. ':h2:' .. b}
i = (s % W) + 1
while i > 0 do
  args[#args+1] = 'GET'; args[#args+1] = 'i32'; args[#args+1] = '#' .. (i - 1)
  i = i - bit.band(i, -i)
end
for _, v in ipairs(redis.call(unpack(args))) do n = n + v end
return {n, tonumber(redis.call('GET', G .. ':n') or '0'), gen}
`)

// switchScript makes generation ARGV[1] current once it has caught up with
// the log (adding each entry's delta): ARGV[2] is the last seq applied to it,
// ARGV[3] the ledger's last seq (the seq counter and the shipped mark never
// go below it: the ledger holds everything up to it). It returns the seq of the
// first log entry it still lacks (0 when it switched).
var switchScript = redis.NewScript(prelude + `
local G = P .. ':g' .. ARGV[1]
local last = tonumber(ARGV[2])
local entries = redis.call('XRANGE', P .. ':log', '(' .. last .. '-0', '+', 'COUNT', 1001)
if #entries > 1000 then return last + 1 end
for _, e in ipairs(entries) do
  local f = e[2]
  local cust, bk, d
  for j = 1, #f, 2 do
    if f[j] == 'u' then cust = f[j+1] elseif f[j] == 'k' then bk = f[j+1] elseif f[j] == 'd' then d = tonumber(f[j+1]) end
  end
  local v = d + tonumber(redis.call('HGET', G .. ':b:' .. bk, cust) or '0')
  if v < 0 then v = 0 end
  setbal(G, cust, bk, v)
end
if tonumber(ARGV[3]) > tonumber(redis.call('GET', P .. ':seq') or '0') then
  redis.call('SET', P .. ':seq', ARGV[3])
end
if tonumber(ARGV[3]) > tonumber(redis.call('GET', P .. ':shipped') or '0') then
  redis.call('SET', P .. ':shipped', ARGV[3])
end
redis.call('SET', P .. ':gen', ARGV[1])
return 0
`)

// rememberScript restores remembered change ids (after Redis lost them):
// ARGV: dedupe window (days), then id, part, day applied, record quads.
var rememberScript = redis.NewScript(prelude + `
local ttl = (tonumber(ARGV[1]) + 1) * 86400
local today = math.floor(tonumber(redis.call('TIME')[1]) / 86400)
for i = 2, #ARGV, 4 do
  local day = tonumber(ARGV[i+2])
  if day >= today - tonumber(ARGV[1]) then
    local k = P .. ':o:' .. ARGV[i+2] .. ':' .. ARGV[i+1]
    redis.call('HSETNX', k, ARGV[i], ARGV[i+3])
    redis.call('EXPIRE', k, ttl)
  end
end
return 1
`)

// leaseScript takes or renews lease KEYS[1]-suffixed ARGV[1] for holder
// ARGV[2] for ARGV[3] ms; 1 if the holder has it.
var leaseScript = redis.NewScript(`
local k = KEYS[1] .. ':lease:' .. ARGV[1]
local cur = redis.call('GET', k)
if cur == ARGV[2] or (not cur and redis.call('SET', k, ARGV[2], 'NX')) then
  redis.call('PEXPIRE', k, ARGV[3])
  return 1
end
return 0
`)
