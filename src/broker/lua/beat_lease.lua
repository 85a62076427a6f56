-- beat_lease: acquire or renew the beat leader lease.
-- KEYS[1] leader STRING (JSON {"holder","since_ms","token"}, PX TTL), KEYS[2] fencing token counter,
-- KEYS[3] beats ZSET (holder id -> last seen ms: leader and standbys)
-- ARGV[1] holder id (unique per process), ARGV[2] lease ms, ARGV[3] now ms
-- returns {1, token, since_ms, holder} when ARGV[1] holds the lease (renewed or newly
-- acquired with a fresh token), {0, token, since_ms, holder} when another beat holds it.
redis.call('ZADD', KEYS[3], ARGV[3], ARGV[1])
redis.call('ZREMRANGEBYSCORE', KEYS[3], '-inf', tonumber(ARGV[3]) - 10 * tonumber(ARGV[2]))
local cur = redis.call('GET', KEYS[1])
if cur then
  local ok, l = pcall(cjson.decode, cur)
  if ok and type(l) == 'table' and l.holder ~= nil then
    if l.holder == ARGV[1] then
      redis.call('PEXPIRE', KEYS[1], ARGV[2])
      return {1, tostring(l.token), tostring(l.since_ms), l.holder}
    end
    return {0, tostring(l.token), tostring(l.since_ms), tostring(l.holder)}
  end
  -- Undecodable: honour its TTL, but never let a value without one block beat forever.
  if redis.call('PTTL', KEYS[1]) > 0 then
    return {0, '0', '0', '?'}
  end
end
local token = redis.call('INCR', KEYS[2])
local v = '{"holder":' .. cjson.encode(ARGV[1]) .. ',"since_ms":' .. ARGV[3] .. ',"token":' .. token .. '}'
redis.call('SET', KEYS[1], v, 'PX', ARGV[2])
return {1, tostring(token), ARGV[3], ARGV[1]}
