-- enqueue: put one task on a queue, now or later, honouring its unique key.
-- KEYS[1] pending LIST, KEYS[2] scheduled ZSET, KEYS[3] data HASH, KEYS[4] unique key (or any key of the queue when none),
-- KEYS[5] history HASH
-- ARGV[1] id, ARGV[2] envelope JSON, ARGV[3] due time ms (0 = now), ARGV[4] "1" when KEYS[4] is a unique key,
-- ARGV[5] delay ms from the Redis server's clock (0 = none; used when ARGV[3] is 0),
-- ARGV[6] the unique key itself (or '')
-- returns {1, id} when enqueued, {0, existing id} when the unique key is held
if ARGV[4] == '1' then
  local holder = redis.call('GET', KEYS[4])
  if holder then return {0, holder} end
  redis.call('SET', KEYS[4], ARGV[1])
  redis.call('HSET', KEYS[5], 'u:' .. ARGV[6], ARGV[1])
end
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local due = tonumber(ARGV[3])
if due == 0 and tonumber(ARGV[5] or '0') > 0 then
  due = now + tonumber(ARGV[5])
end
if due > 0 then
  redis.call('HSET', KEYS[3], ARGV[1], ARGV[2])
  redis.call('ZADD', KEYS[2], due, ARGV[1])
  redis.call('HSET', KEYS[5], ARGV[1], '{"at":' .. now .. ',"ev":"scheduled","due_at":' .. due .. ',"envelope":' .. ARGV[2] .. '}')
else
  redis.call('LPUSH', KEYS[1], ARGV[2])
  redis.call('HSET', KEYS[5], ARGV[1], '{"at":' .. now .. ',"ev":"enqueued","envelope":' .. ARGV[2] .. '}')
end
return {1, ARGV[1]}
