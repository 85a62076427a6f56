-- clock: the Redis server's time in ms (every script that times something uses it, so
-- all deadlines come from one clock).
local function redis_now()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end
