-- renew: extend the leases a worker still holds (heartbeat).
-- KEYS[1] lease ZSET, KEYS[2] active HASH
-- ARGV[1] now ms, ARGV[2] lease ms, ARGV[3] worker id, ARGV[4..] task ids
-- returns the ids now leased to another worker (a task no longer active at all has
-- just finished or was recovered; the finish step reports that case).
local me = ARGV[3] .. '|'
local expiry = tonumber(ARGV[1]) + tonumber(ARGV[2])
local lost = {}
for i = 4, #ARGV do
  local cur = redis.call('HGET', KEYS[2], ARGV[i])
  if cur then
    if string.sub(cur, 1, #me) == me then
      redis.call('ZADD', KEYS[1], 'XX', expiry, ARGV[i])
    else
      lost[#lost + 1] = ARGV[i]
    end
  end
end
return lost
