-- set.lua sets balances in generation ARGV[6] (a rebuild's new generation):
-- ARGV[7] is 'set' (absolute balances) or 'add' (deltas, floored at zero,
-- for catching up with the log), then customer, balance hash, value triples.
G = P .. ':g' .. ARGV[6]
local add = ARGV[7] == 'add'
local h = newhist()
local bals = {}
for i = 8, #ARGV, 3 do
  local hk = G .. ':b:' .. ARGV[i + 1]
  local key = hk .. ' ' .. ARGV[i]
  local b = bals[key]
  if not b then
    local v0 = balance(hk, ARGV[i])
    b = {hk, ARGV[i], v0, v0}
    bals[key] = b
  end
  local v = tonumber(ARGV[i + 2])
  if add then v = math.max(b[3] + v, 0) end
  if v > MAXP then return redis.error_reply('balance of customer ' .. ARGV[i] .. ' would exceed ' .. MAXP) end
  h.move(b[3], v)
  b[3] = v
end
if #missing > 0 then return retry() end
h.write()
setbals(bals)
return {'OK'}
