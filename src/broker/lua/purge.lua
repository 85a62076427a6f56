-- purge: delete up to N tasks in one state of a queue, releasing their unique keys.
-- Active tasks are never touched.
-- KEYS[1] the state's key (pending LIST, or scheduled/retry/dead ZSET), KEYS[2] data HASH
-- ARGV[1] "list" or "zset", ARGV[2] max tasks, ARGV[3] unique key prefix
-- returns how many were deleted
local n = tonumber(ARGV[2])
local envs = {}
if ARGV[1] == 'list' then
  for i = 1, n do
    local e = redis.call('RPOP', KEYS[1])
    if not e then break end
    envs[#envs + 1] = {nil, e}
  end
else
  local ids = redis.call('ZRANGE', KEYS[1], 0, n - 1)
  for _, id in ipairs(ids) do
    redis.call('ZREM', KEYS[1], id)
    envs[#envs + 1] = {id, redis.call('HGET', KEYS[2], id)}
    redis.call('HDEL', KEYS[2], id)
  end
end
for _, p in ipairs(envs) do
  if p[2] then
    local ok, t = pcall(cjson.decode, p[2])
    if ok and type(t) == 'table' and type(t.unique_key) == 'string' then
      local k = ARGV[3] .. t.unique_key
      if redis.call('GET', k) == t.id then redis.call('DEL', k) end
    end
  end
end
return #envs
