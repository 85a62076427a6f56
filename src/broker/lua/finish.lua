-- finish: record the outcome of tasks this worker ran (a batch).
-- KEYS[1] lease ZSET, KEYS[2] owner HASH, KEYS[3] data HASH, KEYS[4] pending LIST,
-- KEYS[5] retry ZSET, KEYS[6] dead ZSET, KEYS[7] stats HASH
-- ARGV[1] now ms, ARGV[2] worker id, ARGV[3] unique key prefix, ARGV[4] dead cap,
-- then groups of 6: id, kind (done|retry|dead|requeue|failed), envelope JSON, score, unique key ('' = none), task name
-- Counters per queue and per task (`done:<task>`, ...) and the last time each task
-- succeeded or failed (`last_done:<task>`, `last_failed:<task>`) go to the stats hash.
-- 'failed' is dead after a permanent failure (counted as failed, not exhausted).
-- returns one entry per task: 1 applied, 0 the lease was no longer this worker's (ignored).
local now = tonumber(ARGV[1])
local me = ARGV[2] .. '|'
local res = {}
local trimmed = false
for i = 5, #ARGV, 6 do
  local id, kind, env, score, uniq, task = ARGV[i], ARGV[i + 1], ARGV[i + 2], ARGV[i + 3], ARGV[i + 4], ARGV[i + 5]
  local own = redis.call('HGET', KEYS[2], id)
  if (not own) or string.sub(own, 1, #me) ~= me then
    res[#res + 1] = 0
  else
    redis.call('ZREM', KEYS[1], id)
    redis.call('HDEL', KEYS[2], id)
    local release = false
    if kind == 'done' then
      redis.call('HDEL', KEYS[3], id)
      redis.call('HINCRBY', KEYS[7], 'done', 1)
      redis.call('HINCRBY', KEYS[7], 'done:' .. task, 1)
      redis.call('HSET', KEYS[7], 'last_done:' .. task, ARGV[1])
      release = true
    elseif kind == 'retry' then
      redis.call('HSET', KEYS[3], id, env)
      redis.call('ZADD', KEYS[5], score, id)
      redis.call('HINCRBY', KEYS[7], 'retried', 1)
      redis.call('HINCRBY', KEYS[7], 'retried:' .. task, 1)
      redis.call('HSET', KEYS[7], 'last_failed:' .. task, ARGV[1])
    elseif kind == 'requeue' then
      redis.call('HDEL', KEYS[3], id)
      redis.call('RPUSH', KEYS[4], env)
    else
      redis.call('HSET', KEYS[3], id, env)
      redis.call('ZADD', KEYS[6], now, id)
      local k = kind == 'failed' and 'failed' or 'dead'
      redis.call('HINCRBY', KEYS[7], k, 1)
      redis.call('HINCRBY', KEYS[7], k .. ':' .. task, 1)
      redis.call('HSET', KEYS[7], 'last_failed:' .. task, ARGV[1])
      trimmed = true
      release = true
    end
    if release and uniq ~= '' then
      local k = ARGV[3] .. uniq
      if redis.call('GET', k) == id then redis.call('DEL', k) end
    end
    res[#res + 1] = 1
  end
end
if trimmed then
  local over = redis.call('ZCARD', KEYS[6]) - tonumber(ARGV[4])
  if over > 0 then
    local old = redis.call('ZPOPMIN', KEYS[6], over)
    for j = 1, #old, 2 do redis.call('HDEL', KEYS[3], old[j]) end
  end
end
return res
