-- finish: record the outcomes of runs this worker did (a batch), on Redis time.
-- KEYS[1] lease ZSET, KEYS[2] active HASH, KEYS[3] data HASH, KEYS[4] pending LIST,
-- KEYS[5] retry ZSET, KEYS[6] dead ZSET, KEYS[7] stats HASH, KEYS[8] superseded ZSET
-- ARGV[1] worker id, ARGV[2] unique key prefix, ARGV[3] dead cap,
-- then groups of 7: id, claim token, kind (done|retry|dead|requeue|failed), envelope
-- JSON, retry delay ms (due = Redis now + delay), unique key ('' = none), task name.
-- 'failed' is dead after a permanent failure (counted as failed, not exhausted).
-- Counters per queue and per task (`done`, `done:<task>`, ...) and the last time each
-- task succeeded or failed (`last_done:<task>`, `last_failed:<task>`) go to the stats
-- hash, summed per batch.
-- An outcome applies only while the active entry carries this worker and this token.
-- returns one entry per run: 1 applied; 0 refused, the run was superseded (its lease
-- expired and the task was recovered: another run's outcome counts, and the unique key
-- stays with it); 2 already applied (a retried write whose first reply was lost: the
-- entry is gone and no sweep recovered it, and only this run could have removed it).
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local res = {}
local counts = {}
local last = {}
local died = false
local function count(field, task)
  counts[field] = (counts[field] or 0) + 1
  counts[field .. ':' .. task] = (counts[field .. ':' .. task] or 0) + 1
end
for i = 4, #ARGV, 7 do
  local id, token, kind, env = ARGV[i], ARGV[i + 1], ARGV[i + 2], ARGV[i + 3]
  local delay, uniq, task = ARGV[i + 4], ARGV[i + 5], ARGV[i + 6]
  local me = ARGV[1] .. '|' .. token .. '|'
  local cur = redis.call('HGET', KEYS[2], id)
  if (not cur) or string.sub(cur, 1, #me) ~= me then
    if cur or redis.call('ZSCORE', KEYS[8], token) then
      res[#res + 1] = 0
    else
      res[#res + 1] = 2
    end
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
      redis.call('ZADD', KEYS[5], now + tonumber(delay), id)
      count('retried', task)
      last['last_failed:' .. task] = now
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
      local k = ARGV[2] .. uniq
      if redis.call('GET', k) == id then redis.call('DEL', k) end
    end
    res[#res + 1] = 1
  end
end
for f, n in pairs(counts) do redis.call('HINCRBY', KEYS[7], f, n) end
for f, v in pairs(last) do redis.call('HSET', KEYS[7], f, v) end
if died then
  local over = redis.call('ZCARD', KEYS[6]) - tonumber(ARGV[3])
  if over > 0 then
    local old = redis.call('ZPOPMIN', KEYS[6], over)
    for j = 1, #old, 2 do redis.call('HDEL', KEYS[3], old[j]) end
  end
end
return res
