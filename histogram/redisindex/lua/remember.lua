-- remember.lua restores remembered change ids (after Redis lost them), in
-- the board's format (idformat): ARGV[6] is the dedupe window in days, then
-- 11 values per change: its id, remembered-id field, dedupe part, day
-- applied, digest, packed digest, seq, delta, balance, unix, points (see
-- idrecord). Ids of days outside the window are skipped.
local win = tonumber(ARGV[6])
local now, real = clock()
local today = math.floor(now / DAY)
local fmt, fresh = idformat()
local todo = {}
for i = 7, #ARGV, 11 do
  local day = tonumber(ARGV[i + 3])
  if day >= today - win and day <= today then
    local k = P .. ':o:' .. day .. ':' .. ARGV[i + 2]
    if has(k) then
      local field, rec = idrecord(fmt, ARGV[i], ARGV[i + 1], ARGV[i + 4], ARGV[i + 5], ARGV[i + 6], ARGV[i + 7], ARGV[i + 8],
        ARGV[i + 9], ARGV[i + 10])
      todo[#todo + 1] = {k, field, rec, (day + win + 1) * DAY - real}
    end
  end
end
if #missing > 0 then return retry() end
for _, w in ipairs(todo) do
  redis.call('HSETNX', w[1], w[2], w[3])
  redis.call('EXPIRE', w[1], w[4])
end
if #todo > 0 then keepformat(fresh) end
return {'OK'}
