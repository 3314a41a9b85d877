-- Moves a pending dead letter to the dropped ones, with why and when.
-- KEYS[1] {P}:dead, KEYS[2] {P}:dead:dropped. ARGV[1] seq, ARGV[2] the
-- reason (a JSON string), ARGV[3] the time (a JSON string). Answers 1 if
-- moved, 0 if no dead letter of that seq is pending.
local v = redis.call('HGET', KEYS[1], ARGV[1])
if not v then
  return 0
end
redis.call('HSET', KEYS[2], ARGV[1], '{"drop_reason":' .. ARGV[2] .. ',"dropped_at":' .. ARGV[3] .. ',"letter":' .. v .. '}')
redis.call('HDEL', KEYS[1], ARGV[1])
return 1
