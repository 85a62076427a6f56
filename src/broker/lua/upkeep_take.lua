-- upkeep_take: a worker that does not hold a queue's upkeep lease tries to take it.
-- KEYS[1] upkeep STRING
-- ARGV[1] worker id, ARGV[2] lease ms
-- returns -1 when the caller took the lease, else the holder's time left (ms), so the
-- caller tries again just as it would run out: a holder that stopped renewing (cut off,
-- stopped, killed) is replaced at once, and one that renews costs a try per lease.
if redis.call('SET', KEYS[1], ARGV[1], 'NX', 'PX', ARGV[2]) then return -1 end
return redis.call('PTTL', KEYS[1])
