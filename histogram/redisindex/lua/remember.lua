-- remember.lua restores remembered change ids (after Redis lost them):
-- ARGV[6] is the dedupe window in days, then 9 values per change: its
-- remembered-id field, dedupe part, day applied, packed digest, seq, delta,
-- balance, unix, points (see packrec). Ids of days outside the window are
-- skipped.
local win = tonumber(ARGV[6])
local now, real = clock()
local today = math.floor(now / DAY)
local todo = {}
for i = 7, #ARGV, 9 do
  local day = tonumber(ARGV[i + 2])
  if day >= today - win and day <= today then
    local k = P .. ':o:' .. day .. ':' .. ARGV[i + 1]
    if has(k) then
      local rec = packrec(ARGV[i + 3], tonumber(ARGV[i + 4]), tonumber(ARGV[i + 5]), tonumber(ARGV[i + 6]),
        tonumber(ARGV[i + 7]), tonumber(ARGV[i + 8]))
      todo[#todo + 1] = {k, ARGV[i], rec, (day + win + 1) * DAY - real}
    end
  end
end
if #missing > 0 then return retry() end
for _, w in ipairs(todo) do
  redis.call('HSETNX', w[1], w[2], w[3])
  redis.call('EXPIRE', w[1], w[4])
end
return {'OK'}
