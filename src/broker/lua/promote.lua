-- promote: move delayed and retrying tasks that are due onto the pending list.
-- KEYS[1] scheduled ZSET, KEYS[2] retry ZSET, KEYS[3] data HASH, KEYS[4] pending LIST
-- ARGV[1] now ms, ARGV[2] max tasks per set
-- returns {moved, next due ms or -1}
local moved = 0
local nextdue = -1
for k = 1, 2 do
  local ids = redis.call('ZRANGEBYSCORE', KEYS[k], '-inf', ARGV[1], 'LIMIT', 0, tonumber(ARGV[2]))
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
return {moved, nextdue}
