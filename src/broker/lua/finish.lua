-- finish: record the outcome of tasks this worker ran (a batch).
-- KEYS[1] lease ZSET, KEYS[2] active HASH, KEYS[3] data HASH, KEYS[4] pending LIST,
-- KEYS[5] retry ZSET, KEYS[6] dead ZSET, KEYS[7] stats HASH
-- ARGV[1] now ms, ARGV[2] worker id, ARGV[3] unique key prefix, ARGV[4] dead cap,
-- then groups of 6: id, kind (done|retry|defer|dead|requeue|failed), envelope JSON, score,
-- unique key ('' = none), task name.
-- 'failed' is dead after a permanent failure (counted as failed, not exhausted).
-- 'defer' waits in the retry set like 'retry' but is counted as deferred (not a failure).
-- Counters per queue and per task (`done`, `done:<task>`, ...) and the last time each
-- task succeeded or failed (`last_done:<task>`, `last_failed:<task>`) go to the stats
-- hash, summed per batch.
-- returns one entry per task: 1 applied, 0 the lease was no longer this worker's (ignored).
local now = ARGV[1]
local me = ARGV[2] .. '|'
local res = {}
local counts = {}
local last = {}
local died = false
local function count(field, task)
  counts[field] = (counts[field] or 0) + 1
  counts[field .. ':' .. task] = (counts[field .. ':' .. task] or 0) + 1
end
for i = 5, #ARGV, 6 do
  local id, kind, env, score, uniq, task = ARGV[i], ARGV[i + 1], ARGV[i + 2], ARGV[i + 3], ARGV[i + 4], ARGV[i + 5]
  local cur = redis.call('HGET', KEYS[2], id)
  if (not cur) or string.sub(cur, 1, #me) ~= me then
    res[#res + 1] = 0
  else
    redis.call('ZREM', KEYS[1], id)
    redis.call('HDEL', KEYS[2], id)
    local release = false
    if kind == 'done' then
      count('done', task)
      last['last_done:' .. task] = now
      release = true
    elseif kind == 'retry' then
      redis.call('HSET', KEYS[3], id, env)
      redis.call('ZADD', KEYS[5], score, id)
      count('retried', task)
      last['last_failed:' .. task] = now
    elseif kind == 'defer' then
      redis.call('HSET', KEYS[3], id, env)
      redis.call('ZADD', KEYS[5], score, id)
      count('deferred', task)
    elseif kind == 'requeue' then
      redis.call('RPUSH', KEYS[4], env)
    else
      redis.call('HSET', KEYS[3], id, env)
      redis.call('ZADD', KEYS[6], now, id)
      count(kind == 'failed' and 'failed' or 'dead', task)
      last['last_failed:' .. task] = now
      died = true
      release = true
    end
    if release and uniq ~= '' then
      local k = ARGV[3] .. uniq
      if redis.call('GET', k) == id then redis.call('DEL', k) end
    end
    res[#res + 1] = 1
  end
end
for f, n in pairs(counts) do redis.call('HINCRBY', KEYS[7], f, n) end
for f, t in pairs(last) do redis.call('HSET', KEYS[7], f, t) end
if died then
  local over = redis.call('ZCARD', KEYS[6]) - tonumber(ARGV[4])
  if over > 0 then
    local old = redis.call('ZPOPMIN', KEYS[6], over)
    for j = 1, #old, 2 do redis.call('HDEL', KEYS[3], old[j]) end
  end
end
return res
