-- Sets a change-log entry aside as a dead letter, once per seq.
-- KEYS[1] {P}:dead, KEYS[2] {P}:dead:dropped. ARGV[1] seq, ARGV[2] the
-- dead letter (JSON). Answers 1 if stored, 0 if that seq is already a dead
-- letter, pending or dropped (a shipper that crashed before marking the
-- entry shipped sets it aside again).
if redis.call('HEXISTS', KEYS[1], ARGV[1]) == 1 or redis.call('HEXISTS', KEYS[2], ARGV[1]) == 1 then
  return 0
end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
return 1
