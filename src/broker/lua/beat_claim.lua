-- beat_claim: the first half of firing one (entry, fire time): check the lease and its
-- fencing token, then claim the fire time, all in beat's slot ({beat}). The task itself
-- is enqueued next in its queue's slot (enqueue.lua with the fire's idempotency key),
-- and beat_settle.lua records how that went. Until then the claimed fire waits in the
-- entry's `pending_fire` field, so any beat completes it after a crash or a lost reply;
-- a stale leader is refused here, before anything is enqueued.
-- KEYS[1] leader STRING, KEYS[2] entry HASH, KEYS[3] fired (idempotency) key
-- ARGV[1] holder id, ARGV[2] fencing token, ARGV[3] now ms, ARGV[4] fire ms (0 = only
-- set the cursor), ARGV[5] next fire ms, ARGV[6] schedule text, ARGV[7] fired-key TTL ms,
-- ARGV[8] task id, ARGV[9] envelope JSON, ARGV[10] "1" when this is a late (catch-up) fire
-- returns {-1} not the leader; {0, task id} this fire time was already fired;
-- {1, task id} claimed: enqueue it now; {3} cursor set; {4, pending JSON} an earlier
-- claimed fire is not settled yet: settle it first, then ask again
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
local pending = redis.call('HGET', KEYS[2], 'pending_fire')
if pending then return {4, pending} end
local last = tonumber(redis.call('HGET', KEYS[2], 'last_fire_ms') or '0') or 0
if fire <= last then
  return {0, redis.call('HGET', KEYS[2], 'last_task_id') or ''}
end
local prior = redis.call('GET', KEYS[3])
if prior then return {0, prior} end
local id = ARGV[8]
redis.call('SET', KEYS[3], id, 'PX', ARGV[7])
local p = '{"id":' .. cjson.encode(id) .. ',"fire_ms":' .. ARGV[4] .. ',"at_ms":' .. ARGV[3]
  .. ',"late":' .. tostring(ARGV[10] == '1') .. ',"holder":' .. cjson.encode(ARGV[1])
  .. ',"token":' .. ARGV[2] .. ',"ttl_ms":' .. ARGV[7] .. ',"envelope":' .. ARGV[9] .. '}'
redis.call('HSET', KEYS[2], 'last_fire_ms', ARGV[4], 'next_fire_ms', ARGV[5],
  'last_task_id', id, 'last_outcome', 'pending', 'schedule', ARGV[6], 'pending_fire', p)
redis.call('HSETNX', KEYS[2], 'consecutive_failures', 0)
return {1, id}
