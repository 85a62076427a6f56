-- beat_lease: acquire or renew the beat leader lease, on the Redis server's clock.
-- KEYS[1] leader STRING (JSON {"holder","since_ms","token"}, PX TTL), KEYS[2] fencing token counter,
-- KEYS[3] beats ZSET (holder id -> last seen ms: leader and standbys)
-- ARGV[1] holder id (unique per process), ARGV[2] lease ms
-- returns {1, token, since_ms, holder, now_ms} when ARGV[1] holds the lease (renewed or
-- newly acquired with a fresh token), {0, token, since_ms, holder, now_ms} when another
-- beat holds it. now_ms is Redis's clock: beat plans its ticks by it, never by its own.
local t = redis.call('TIME')
local now = tostring(tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000))
redis.call('ZADD', KEYS[3], now, ARGV[1])
redis.call('ZREMRANGEBYSCORE', KEYS[3], '-inf', tonumber(now) - 10 * tonumber(ARGV[2]))
local cur = redis.call('GET', KEYS[1])
if cur then
  local ok, l = pcall(cjson.decode, cur)
  if ok and type(l) == 'table' and l.holder ~= nil then
    if l.holder == ARGV[1] then
      redis.call('PEXPIRE', KEYS[1], ARGV[2])
      return {1, tostring(l.token), tostring(l.since_ms), l.holder, now}
    end
    return {0, tostring(l.token), tostring(l.since_ms), tostring(l.holder), now}
  end
  -- Undecodable: honour its TTL, but never let a value without one block beat forever.
  if redis.call('PTTL', KEYS[1]) > 0 then
    return {0, '0', '0', '?', now}
  end
end
local token = redis.call('INCR', KEYS[2])
local v = '{"holder":' .. cjson.encode(ARGV[1]) .. ',"since_ms":' .. now .. ',"token":' .. token .. '}'
redis.call('SET', KEYS[1], v, 'PX', ARGV[2])
return {1, tostring(token), now, ARGV[1], now}
