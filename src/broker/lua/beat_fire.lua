-- beat_fire: fire one (entry, fire time) exactly once, or only move the entry's cursor.
-- Checking the lease and fencing token, claiming the fire time and enqueueing the task
-- are one atomic step, so a stale leader cannot fire and a lost reply cannot double.
-- KEYS[1] leader STRING, KEYS[2] entry HASH, KEYS[3] fired (idempotency) key,
-- KEYS[4] history LIST, KEYS[5] queue pending LIST, KEYS[6] task unique key (or any
-- key of the queue when none), KEYS[7] known queues SET, KEYS[8] the queue's task history HASH
-- ARGV[1] holder id, ARGV[2] fencing token, ARGV[3] now ms, ARGV[4] fire ms (0 = only
-- set the cursor), ARGV[5] next fire ms, ARGV[6] schedule text, ARGV[7] fired-key TTL ms,
-- ARGV[8] history length, ARGV[9] task id, ARGV[10] envelope JSON, ARGV[11] "1" when
-- KEYS[6] is a unique key, ARGV[12] queue name, ARGV[13] "1" when this is a late (catch-up) fire
-- returns {-1} not the leader; {0, task id} this fire time was already fired;
-- {1, task id} fired; {2, holder id} fired but the task's unique key is held (duplicate);
-- {3} cursor set
local cur = redis.call('GET', KEYS[1])
if not cur then return {-1} end
local ok, l = pcall(cjson.decode, cur)
if not (ok and type(l) == 'table' and l.holder == ARGV[1] and tostring(l.token) == ARGV[2]) then
  return {-1}
end
local fire = tonumber(ARGV[4])
if fire == 0 then
  redis.call('HSET', KEYS[2], 'next_fire_ms', ARGV[5], 'schedule', ARGV[6])
  return {3}
end
local last = tonumber(redis.call('HGET', KEYS[2], 'last_fire_ms') or '0') or 0
if fire <= last then
  return {0, redis.call('HGET', KEYS[2], 'last_task_id') or ''}
end
local prior = redis.call('GET', KEYS[3])
if prior then return {0, prior} end
-- The enqueue below mirrors enqueue.lua (immediate, unique key honoured): keep in step.
local id, status = ARGV[9], 1
if ARGV[11] == '1' then
  local holder = redis.call('GET', KEYS[6])
  if holder then
    id, status = holder, 2
  else
    redis.call('SET', KEYS[6], ARGV[9])
  end
end
if status == 1 then
  redis.call('LPUSH', KEYS[5], ARGV[10])
  redis.call('SADD', KEYS[7], ARGV[12])
  redis.call('HSET', KEYS[8], ARGV[9], '{"at":' .. ARGV[3] .. ',"ev":"enqueued","by":"beat","envelope":' .. ARGV[10] .. '}')
end
redis.call('SET', KEYS[3], id, 'PX', ARGV[7])
redis.call('HSET', KEYS[2], 'last_fire_ms', ARGV[4], 'next_fire_ms', ARGV[5],
  'last_task_id', id, 'last_outcome', 'pending', 'schedule', ARGV[6])
redis.call('HSETNX', KEYS[2], 'consecutive_failures', 0)
local h = '{"fire_ms":' .. ARGV[4] .. ',"at_ms":' .. ARGV[3] .. ',"task_id":' .. cjson.encode(id)
  .. ',"duplicate":' .. tostring(status == 2) .. ',"late":' .. tostring(ARGV[13] == '1')
  .. ',"holder":' .. cjson.encode(ARGV[1]) .. ',"token":' .. ARGV[2] .. '}'
redis.call('LPUSH', KEYS[4], h)
redis.call('LTRIM', KEYS[4], 0, tonumber(ARGV[8]) - 1)
return {status, id}
