-- upkeep_renew: the worker holding a queue's upkeep lease extends it; anyone else is refused.
-- KEYS[1] upkeep STRING
-- ARGV[1] worker id, ARGV[2] lease ms
-- returns 1 if the caller still holds the lease (now extended), else 0
if redis.call('GET', KEYS[1]) == ARGV[1] then
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
  return 1
end
return 0
