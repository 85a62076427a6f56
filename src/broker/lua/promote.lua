-- promote: move delayed and retrying tasks that are due (by the Redis server's clock)
-- onto the pending list.
-- KEYS[1] scheduled ZSET, KEYS[2] retry ZSET, KEYS[3] data HASH, KEYS[4] pending LIST
-- ARGV[1] max tasks per set
-- returns {moved, ms until the next due task or -1 when none}
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local moved = 0
local nextdue = -1
for k = 1, 2 do
  local ids = redis.call('ZRANGEBYSCORE', KEYS[k], '-inf', now, 'LIMIT', 0, tonumber(ARGV[1]))
  for _, id in ipairs(ids) do
    redis.call('ZREM', KEYS[k], id)
    local env = redis.call('HGET', KEYS[3], id)
    if env then
      redis.call('HDEL', KEYS[3], id)
      redis.call('LPUSH', KEYS[4], env)
      moved = moved + 1
    end
  end
  local first = redis.call('ZRANGE', KEYS[k], 0, 0, 'WITHSCORES')
  if first[2] then
    local s = tonumber(first[2])
    if nextdue < 0 or s < nextdue then nextdue = s end
  end
end
if nextdue >= 0 then nextdue = math.max(0, nextdue - now) end
return {moved, nextdue}
