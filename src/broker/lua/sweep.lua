-- sweep: recover tasks whose lease expired (their worker died or hung). Atomic, so
-- each expired task is recovered by exactly one sweeper. A recovery counts as an attempt.
-- KEYS[1] lease ZSET, KEYS[2] active HASH, KEYS[3] data HASH, KEYS[4] pending LIST,
-- KEYS[5] dead ZSET, KEYS[6] stats HASH, KEYS[7] history HASH, KEYS[8] history index ZSET
-- ARGV[1] now ms, ARGV[2] max tasks, ARGV[3] unique key prefix, ARGV[4] max deliveries
-- returns {recovered, dead}
local now = tonumber(ARGV[1])
local ids = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', now, 'LIMIT', 0, tonumber(ARGV[2]))
local recovered, dead = 0, 0
-- History: append events to the task's record (started from its envelope when absent).
local function history(t, events, ended)
  local line = redis.call('HGET', KEYS[7], t.id)
  if not line then
    line = cjson.encode({at = tonumber(t.enqueued_at) or now, ev = 'enqueued', task = t.task})
  end
  for _, e in ipairs(events) do line = line .. '\n' .. cjson.encode(e) end
  redis.call('HSET', KEYS[7], t.id, line)
  if ended then redis.call('ZADD', KEYS[8], now, t.id) end
end
for _, id in ipairs(ids) do
  local cur = redis.call('HGET', KEYS[2], id)
  redis.call('ZREM', KEYS[1], id)
  redis.call('HDEL', KEYS[2], id)
  if cur then
    local worker, env = string.match(cur, '^([^|]*)|%d+|(.*)$')
    local ok, t = pcall(cjson.decode, env or '')
    if not ok or type(t) ~= 'table' then
      t = {v = 1, id = id, task = '(malformed)', attempt = 1, max_retries = 0, enqueued_at = now, last_error = string.sub(env or cur, 1, 500)}
    end
    t.attempt = (tonumber(t.attempt) or 1) + 1
    t.deliveries = (tonumber(t.deliveries) or 0) + 1
    t.last_error = 'lease expired: worker ' .. (worker or '?') .. ' stopped renewing it'
    t.id = id
    local expired = {at = now, ev = 'lease_expired', worker = worker, error = t.last_error,
      claimed_at = tonumber(string.match(cur, '^[^|]*|(%d+)|') or '')}
    if t.attempt > (tonumber(t.max_retries) or 0) + 1 or t.deliveries >= tonumber(ARGV[4]) then
      t.reason = 'worker lost during the last allowed attempt (lease expired ' .. t.deliveries .. ' times)'
      redis.call('HSET', KEYS[3], id, cjson.encode(t))
      redis.call('ZADD', KEYS[5], now, id)
      redis.call('HINCRBY', KEYS[6], 'dead', 1)
      history(t, {expired, {at = now, ev = 'dead', reason = t.reason, error = t.last_error}}, true)
      if type(t.unique_key) == 'string' then
        local k = ARGV[3] .. t.unique_key
        if redis.call('GET', k) == id then redis.call('DEL', k) end
      end
      dead = dead + 1
    else
      redis.call('RPUSH', KEYS[4], cjson.encode(t))
      history(t, {expired}, false)
      recovered = recovered + 1
    end
  end
end
if recovered > 0 then redis.call('HINCRBY', KEYS[6], 'recovered', recovered) end
return {recovered, dead}
