-- set.lua adds log deltas to generation ARGV[6] (a rebuild's new generation
-- catching up with the change log); ARGV[7] is 'add'; then customer,
-- balance hash, delta, season ('' for none), season delta quintuples. Each
-- board is floored at zero.
G = P .. ':g' .. ARGV[6]
local h = newhist()
local bals = {}
local seasons = {}
for i = 8, #ARGV, 5 do
  addlogged(h, bals, seasons, ARGV[i], ARGV[i + 1], ARGV[i + 2], ARGV[i + 3], ARGV[i + 4])
end
if #missing > 0 then return retry() end
h.write()
setbals(bals)
writeseasons(seasons)
return {'OK'}
