-- format.lua sets the board's format ({P}:format, see idformat) to ARGV[6]:
-- ARGV[7] is how far ahead of the index's clock a change's time may be, in
-- seconds. It answers {format before, day}. To 2, {P}:o:ahead is first
-- raised to the latest day a memory day can be now: writers of earlier
-- versions may have remembered ids up to it without keeping {P}:o:ahead,
-- which format 2 trusts; day is 0. To 1 from 2, day is the latest day
-- compact ids may have been remembered in (their hashes expire at the start
-- of day + the window + 1); 0 when none can have been.
local to, ahead = ARGV[6], tonumber(ARGV[7])
local now = clock()
local from, fresh = idformat()
local last = math.floor((now + ahead) / DAY)
has(P .. ':o:ahead')
local v = redis.call('GET', P .. ':o:ahead')
local a = tonumber(v or last)
if #missing > 0 then return retry() end
local day = 0
if to == '2' then
  if not v or a < last then redis.call('SET', P .. ':o:ahead', last) end
elseif from == 2 and not fresh then
  day = math.max(a, last)
end
redis.call('SET', P .. ':format', to)
return {tostring(from), tostring(day)}
