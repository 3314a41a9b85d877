-- rank.lua answers {'OK', customers with at most ARGV[5] points, customers
-- ranked, generation} from the current generation's histogram.
local s = tonumber(ARGV[5])
local b = math.floor(s / W) + 1
local h1, h2, nk = G .. ':h1', G .. ':h2:' .. b, G .. ':n'
has(h1); has(h2); has(nk)
if #missing > 0 then return retry() end
local n = 0
local args = {'BITFIELD_RO', h1}
local i = b - 1
while i > 0 do
  args[#args + 1] = 'GET'; args[#args + 1] = 'i32'; args[#args + 1] = '#' .. (i - 1)
  i = i - bit.band(i, -i)
end
if #args > 2 then
  for _, v in ipairs(redis.call(unpack(args))) do n = n + v end
end
args = {'BITFIELD_RO', h2}
i = (s % W) + 1
while i > 0 do
  args[#args + 1] = 'GET'; args[#args + 1] = 'i32'; args[#args + 1] = '#' .. (i - 1)
  i = i - bit.band(i, -i)
end
for _, v in ipairs(redis.call(unpack(args))) do n = n + v end
return {'OK', tostring(n), redis.call('GET', nk) or '0', GEN}
