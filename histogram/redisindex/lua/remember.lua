-- remember.lua restores remembered change ids (after Redis lost them):
-- ARGV[6] is the dedupe window in days, then id, dedupe part, day applied,
-- record quads. Ids of days outside the window are skipped.
local win = tonumber(ARGV[6])
local now, real = clock()
local today = math.floor(now / DAY)
local todo = {}
for i = 7, #ARGV, 4 do
  local day = tonumber(ARGV[i + 2])
  if day >= today - win and day <= today then
    local k = P .. ':o:' .. day .. ':' .. ARGV[i + 1]
    if has(k) then todo[#todo + 1] = {k, ARGV[i], ARGV[i + 3], (day + win + 1) * DAY - real} end
  end
end
if #missing > 0 then return retry() end
for _, w in ipairs(todo) do
  redis.call('HSETNX', w[1], w[2], w[3])
  redis.call('EXPIRE', w[1], w[4])
end
return {'OK'}
