-- beat_outcome: record how an entry's last task ended, once per task.
-- KEYS[1] entry HASH
-- ARGV[1] task id, ARGV[2] outcome (done|failed|unknown)
-- Applies only while the entry's last task is ARGV[1] and its outcome is still open
-- (pending or unknown), so each task moves consecutive_failures at most once.
-- returns 1 recorded, 0 ignored
if redis.call('HGET', KEYS[1], 'last_task_id') ~= ARGV[1] then return 0 end
local o = redis.call('HGET', KEYS[1], 'last_outcome')
if (o ~= 'pending' and o ~= 'unknown') or o == ARGV[2] then return 0 end
redis.call('HSET', KEYS[1], 'last_outcome', ARGV[2])
if ARGV[2] == 'failed' then
  redis.call('HINCRBY', KEYS[1], 'consecutive_failures', 1)
elseif ARGV[2] == 'done' then
  redis.call('HSET', KEYS[1], 'consecutive_failures', 0)
end
return 1
