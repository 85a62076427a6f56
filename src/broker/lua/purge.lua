-- purge: delete up to N tasks in one state of a queue, releasing their unique keys.
-- Active tasks are never touched.
-- KEYS[1] the state's key (pending LIST, or scheduled/retry/dead ZSET), KEYS[2] data HASH,
-- KEYS[3] history HASH, KEYS[4] history end LIST (see history_trim.lua), KEYS[5..] the unique keys of the
-- tasks the caller read (declared); the purge stops at a task whose key is not among them
-- ARGV[1] "list" or "zset", ARGV[2] max tasks, ARGV[3] unique key prefix, ARGV[4] now ms,
-- ARGV[5] the state's name
-- returns how many were deleted
local n = tonumber(ARGV[2])
local envs = {}
local declared = {}
for i = 5, #KEYS do declared[KEYS[i]] = true end
local function undeclared(env)
  local ok, t = pcall(cjson.decode, env or '')
  return ok and type(t) == 'table' and type(t.unique_key) == 'string'
    and not declared[ARGV[3] .. t.unique_key]
end
if ARGV[1] == 'list' then
  for i = 1, n do
    local e = redis.call('RPOP', KEYS[1])
    if not e then break end
    if undeclared(e) then
      redis.call('RPUSH', KEYS[1], e)
      break
    end
    envs[#envs + 1] = {nil, e}
  end
else
  local ids = redis.call('ZRANGE', KEYS[1], 0, n - 1)
  for _, id in ipairs(ids) do
    if undeclared(redis.call('HGET', KEYS[2], id)) then break end
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
    -- History: a purge ends the task (only tasks that have a record get one, or whose
    -- message is marked for one: `"h":true`, the record is made from it).
    local id = p[1] or (ok and type(t) == 'table' and type(t.id) == 'string' and t.id) or nil
    local line = id and redis.call('HGET', KEYS[3], id)
    if id and not line and ok and type(t) == 'table' and t.h == true then
      line = '{"at":' .. (tonumber(t.enqueued_at) or ARGV[4]) .. ',"ev":"enqueued","envelope":' .. p[2] .. '}'
    end
    if line then
      redis.call('HSET', KEYS[3], id, line .. '\n{"at":' .. ARGV[4] .. ',"ev":"purged","from":"' .. ARGV[5] .. '"}')
      redis.call('RPUSH', KEYS[4], ARGV[4] .. '|' .. id)
    end
  end
end
return #envs
