-- beat_release: give the leader lease up at once (shutdown), if it is still ours.
-- KEYS[1] leader STRING, KEYS[2] beats ZSET (the stopping beat leaves it)
-- ARGV[1] holder id, ARGV[2] fencing token
-- returns 1 released, 0 not ours (expired or taken over)
redis.call('ZREM', KEYS[2], ARGV[1])
local cur = redis.call('GET', KEYS[1])
if not cur then return 0 end
local ok, l = pcall(cjson.decode, cur)
if ok and type(l) == 'table' and l.holder == ARGV[1] and tostring(l.token) == ARGV[2] then
  redis.call('DEL', KEYS[1])
  return 1
end
return 0
