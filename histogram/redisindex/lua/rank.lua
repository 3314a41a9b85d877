-- rank.lua answers {'OK', customers with at most ARGV[6] points, customers
-- ranked, generation} from the current generation's histogram.
local s = tonumber(ARGV[6])
local nk = G .. ':n'
has(G .. ':h1'); has(G .. ':h2:' .. (math.floor(s / W) + 1)); has(nk)
if #missing > 0 then return retry() end
return {'OK', tostring(atmost(s)), redis.call('GET', nk) or '0', GEN}
