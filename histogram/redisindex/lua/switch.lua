-- switch.lua makes generation ARGV[6] current once it has caught up with the
-- log (adding each entry's delta): ARGV[7] is the last seq applied to it,
-- ARGV[8] the ledger's last seq (the seq counter and the shipped mark never
-- go below it: the ledger holds everything up to it), ARGV[9] the most log
-- entries it applies itself. It answers {'OK', 0} when it switched, or
-- {'OK', seq} with the first log entry it still lacks.
G = P .. ':g' .. ARGV[6]
local last, upto, most = tonumber(ARGV[7]), tonumber(ARGV[8]), tonumber(ARGV[9])
local seqk, shipk, logk = P .. ':seq', P .. ':shipped', P .. ':log'
has(seqk); has(shipk); has(logk)
local entries = redis.call('XRANGE', logk, '(' .. last .. '-0', '+', 'COUNT', most + 1)
if #entries > most then return {'OK', tostring(last + 1)} end
local h = newhist()
local bals = {}
local seasons = {}
for _, e in ipairs(entries) do
  local v = logentry(e[2])
  addlogged(h, bals, seasons, v.u, v.k, v.d, v.s, v.sd)
end
if #missing > 0 then return retry() end
h.write()
setbals(bals)
writeseasons(seasons)
if upto > tonumber(redis.call('GET', seqk) or '0') then redis.call('SET', seqk, upto) end
if upto > tonumber(redis.call('GET', shipk) or '0') then redis.call('SET', shipk, upto) end
redis.call('SET', KEYS[1], ARGV[6])
return {'OK', '0'}
