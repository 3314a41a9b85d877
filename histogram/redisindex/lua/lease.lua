-- lease.lua takes or renews lease KEYS[1] for holder ARGV[1] for ARGV[2]
-- milliseconds; 1 if the holder has it.
local cur = redis.call('GET', KEYS[1])
if cur == ARGV[1] or (not cur and redis.call('SET', KEYS[1], ARGV[1], 'NX')) then
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
  return 1
end
return 0
