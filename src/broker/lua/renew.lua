-- renew: extend the leases a worker still holds (heartbeat).
-- KEYS[1] lease ZSET, KEYS[2] owner HASH
-- ARGV[1] now ms, ARGV[2] lease ms, ARGV[3] worker id, ARGV[4..] task ids
-- returns the ids whose lease this worker no longer holds.
local me = ARGV[3] .. '|'
local expiry = tonumber(ARGV[1]) + tonumber(ARGV[2])
local lost = {}
for i = 4, #ARGV do
  local own = redis.call('HGET', KEYS[2], ARGV[i])
  if own and string.sub(own, 1, #me) == me then
    redis.call('ZADD', KEYS[1], 'XX', expiry, ARGV[i])
  else
    lost[#lost + 1] = ARGV[i]
  end
end
return lost
