-- requeue: move dead tasks back to pending as fresh attempts.
-- KEYS[1] dead ZSET, KEYS[2] data HASH, KEYS[3] pending LIST, KEYS[4] history HASH,
-- KEYS[5] the older history trim index ZSET (see keys.rs), KEYS[6..] the unique keys of the tasks (declared)
-- ARGV[1] unique key prefix, ARGV[2] now ms, ARGV[3..] ids
-- returns per id: 1 requeued, 0 not dead, -1 its unique key is held by another task
local res = {}
local declared = {}
for i = 6, #KEYS do declared[KEYS[i]] = true end
for i = 3, #ARGV do
  local id = ARGV[i]
  local env = redis.call('HGET', KEYS[2], id)
  if redis.call('ZSCORE', KEYS[1], id) and env then
    local ok, t = pcall(cjson.decode, env)
    if ok and type(t) == 'table' and t.task ~= '(malformed)'
      and not (type(t.unique_key) == 'string' and not declared[ARGV[1] .. t.unique_key]) then
      local held = false
      if type(t.unique_key) == 'string' then
        local k = ARGV[1] .. t.unique_key
        if redis.call('SET', k, id, 'NX') == false then held = (redis.call('GET', k) ~= id) end
      end
      if held then
        res[#res + 1] = -1
      else
        t.attempt = 1
        t.deliveries = 0
        t.reason = nil
        redis.call('ZREM', KEYS[1], id)
        redis.call('HDEL', KEYS[2], id)
        redis.call('LPUSH', KEYS[3], cjson.encode(t))
        -- History: the task is live again. Its entry in the end list stays and no longer
        -- deletes the record (history_trim.lua); the older trim index is left at once.
        local line = redis.call('HGET', KEYS[4], id)
        line = (line and (line .. '\n') or '') .. '{"at":' .. ARGV[2] .. ',"ev":"requeued"}'
        redis.call('HSET', KEYS[4], id, line)
        redis.call('ZREM', KEYS[5], id)
        res[#res + 1] = 1
      end
    else
      res[#res + 1] = 0
    end
  else
    res[#res + 1] = 0
  end
end
return res
