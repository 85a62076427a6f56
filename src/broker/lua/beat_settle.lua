-- beat_settle: the last step of a fire: the claimed fire's task is in its queue (or its
-- unique key was held), so clear `pending_fire` and write the fire history line. Any
-- beat may settle a fire (the enqueue before it is idempotent); settling twice is a no-op.
-- KEYS[1] entry HASH, KEYS[2] history LIST
-- ARGV[1] the claimed task id, ARGV[2] "1" enqueued or "0" duplicate, ARGV[3] the task
-- id that holds the fire (the holder of the unique key when a duplicate), ARGV[4]
-- history length
-- returns 1 settled now, 0 already settled
local p = redis.call('HGET', KEYS[1], 'pending_fire')
if not p then return 0 end
local ok, f = pcall(cjson.decode, p)
if not (ok and type(f) == 'table') then
  redis.call('HDEL', KEYS[1], 'pending_fire')
  return 0
end
if f.id ~= ARGV[1] then return 0 end
redis.call('HDEL', KEYS[1], 'pending_fire')
local id = ARGV[3]
if ARGV[2] ~= '1' and redis.call('HGET', KEYS[1], 'last_task_id') == ARGV[1] then
  redis.call('HSET', KEYS[1], 'last_task_id', id)
end
local h = '{"fire_ms":' .. string.format('%d', f.fire_ms) .. ',"at_ms":' .. string.format('%d', f.at_ms)
  .. ',"task_id":' .. cjson.encode(id) .. ',"duplicate":' .. tostring(ARGV[2] ~= '1')
  .. ',"late":' .. tostring(f.late == true) .. ',"holder":' .. cjson.encode(f.holder)
  .. ',"token":' .. string.format('%d', f.token) .. '}'
redis.call('LPUSH', KEYS[2], h)
redis.call('LTRIM', KEYS[2], 0, tonumber(ARGV[4]) - 1)
return 1
