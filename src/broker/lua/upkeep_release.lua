-- upkeep_release: a stopping worker hands back a queue's upkeep lease (only its own).
-- KEYS[1] upkeep STRING
-- ARGV[1] worker id
-- returns 1 if released, else 0
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0
