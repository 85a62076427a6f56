-- enqueue: put one task on a queue, now or later, honouring its unique key and, for
-- beat's fires, an idempotency key (a repeated enqueue of one fire adds nothing).
-- KEYS[1] pending LIST, KEYS[2] scheduled ZSET, KEYS[3] data HASH, KEYS[4] unique key (or any key of the queue when none),
-- KEYS[5] history HASH, KEYS[6] idempotency key (or any key of the queue when none),
-- KEYS[7] retry ZSET
-- ARGV[1] id, ARGV[2] envelope JSON, ARGV[3] due time ms (0 = now), ARGV[4] "1" when KEYS[4] is a unique key,
-- ARGV[5] delay ms from the Redis server's clock (0 = none; used when ARGV[3] is 0),
-- ARGV[6] the unique key itself (or ''), ARGV[7] idempotency key TTL ms (0 = KEYS[6] is
-- not one), ARGV[8] who enqueues ('' or "beat", for the history), ARGV[9] "1" when the
-- message is marked `"h":true` (src/broker/envelope.rs): queued now, it gets no history
-- record until its first outcome (finish.lua, sweep.lua, cancel.lua and purge.lua make it
-- from the message), so a pending task is one list entry; scheduled, it gets one as before
-- returns {1, id} when enqueued, {0, existing id} when the unique key is held; an
-- idempotent repeat returns what the first call returned.
-- A duplicate of a task that waits only because it was deferred (the platform said "not
-- yet": its last error starts with "deferred:") brings it forward: it is due now, and
-- its history says so. A task waiting after a failure keeps its backoff.
local idem = tonumber(ARGV[7] or '0') > 0
if idem then
  local prior = redis.call('GET', KEYS[6])
  if prior then
    local st, pid = string.match(prior, '^(%d)|(.*)$')
    if st then return {tonumber(st), pid} end
  end
end
if ARGV[4] == '1' then
  local holder = redis.call('GET', KEYS[4])
  if holder then
    if idem then redis.call('SET', KEYS[6], '0|' .. holder, 'PX', ARGV[7]) end
    local due = redis.call('ZSCORE', KEYS[7], holder)
    if due then
      local env = redis.call('HGET', KEYS[3], holder)
      local t = redis.call('TIME')
      local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
      if env and string.find(env, '"last_error":"deferred:', 1, true) and tonumber(due) > now then
        redis.call('ZADD', KEYS[7], 'XX', now, holder)
        local line = redis.call('HGET', KEYS[5], holder)
        if line then
          redis.call('HSET', KEYS[5], holder, line .. '\n{"at":' .. now .. ',"ev":"brought_forward"}')
        end
      end
    end
    return {0, holder}
  end
  redis.call('SET', KEYS[4], ARGV[1])
  redis.call('HSET', KEYS[5], 'u:' .. ARGV[6], ARGV[1])
end
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local due = tonumber(ARGV[3])
if due == 0 and tonumber(ARGV[5] or '0') > 0 then
  due = now + tonumber(ARGV[5])
end
local by = ''
if (ARGV[8] or '') ~= '' then by = ',"by":' .. cjson.encode(ARGV[8]) end
if due > 0 then
  redis.call('HSET', KEYS[3], ARGV[1], ARGV[2])
  redis.call('ZADD', KEYS[2], due, ARGV[1])
  redis.call('HSET', KEYS[5], ARGV[1], '{"at":' .. now .. ',"ev":"scheduled","due_at":' .. due .. by .. ',"envelope":' .. ARGV[2] .. '}')
else
  redis.call('LPUSH', KEYS[1], ARGV[2])
  if ARGV[9] ~= '1' then
    redis.call('HSET', KEYS[5], ARGV[1], '{"at":' .. now .. ',"ev":"enqueued"' .. by .. ',"envelope":' .. ARGV[2] .. '}')
  end
end
if idem then redis.call('SET', KEYS[6], '1|' .. ARGV[1], 'PX', ARGV[7]) end
return {1, ARGV[1]}
