-- recall.lua looks change ids up in the remembered ids, searching the days
-- apply.lua searches: ARGV[6] is the dedupe window in days, ARGV[7] how far
-- ahead of the index's clock a change's time may be, in seconds; then per
-- id its remembered-id field, the id, its dedupe part. It answers per id an
-- empty array (not remembered) or {digest, "seq delta balance unix points"}.
-- A read: it writes nothing.
local win, ahead = tonumber(ARGV[6]), tonumber(ARGV[7])
local now = clock()
local today = math.floor(now / DAY)
local days = iddays(today, win, math.floor((now + ahead) / DAY), idformat() == 2)
local out = {}
for i = 8, #ARGV, 3 do
  local r = {}
  for _, pre in ipairs(days) do
    local k = pre .. ARGV[i + 2]
    if has(k) then
      local dig, rec = findid(k, ARGV[i], ARGV[i + 1])
      if dig then
        r = {dig, rec}
        break
      end
    end
  end
  out[#out + 1] = r
end
if #missing > 0 then return retry() end
return out
