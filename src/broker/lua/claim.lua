-- claim: atomically take up to N pending tasks and lease them to one worker.
-- KEYS[1] pending LIST, KEYS[2] lease ZSET, KEYS[3] active HASH, KEYS[4] data HASH,
-- KEYS[5] paused, KEYS[6] dead ZSET, KEYS[7] stats HASH
-- ARGV[1] now ms, ARGV[2] lease ms, ARGV[3] worker id, ARGV[4] max tasks, ARGV[5] queue name
-- returns {-1} when the queue is paused, else the claimed envelopes (maybe none).
-- A message without a readable id cannot be leased: it goes to dead with the reason.
if redis.call('EXISTS', KEYS[5]) == 1 then return {-1} end
local now = tonumber(ARGV[1])
local expiry = now + tonumber(ARGV[2])
local owner = ARGV[3] .. '|' .. ARGV[1] .. '|'
local out = {}
local bad_count = 0
for i = 1, tonumber(ARGV[4]) do
  local env = redis.call('RPOP', KEYS[1])
  if not env then break end
  local id = string.match(env, '^{"v":1,"id":"([^"]+)"')
  if not id then
    local ok, dec = pcall(cjson.decode, env)
    if ok and type(dec) == 'table' and type(dec.id) == 'string' and dec.id ~= '' then id = dec.id end
  end
  if id then
    redis.call('HSET', KEYS[3], id, owner .. env)
    redis.call('ZADD', KEYS[2], expiry, id)
    out[#out + 1] = env
  else
    local bad = 'malformed-' .. ARGV[1] .. '-' .. string.sub(redis.sha1hex(env), 1, 12)
    redis.call('HSET', KEYS[4], bad, cjson.encode({v = 1, id = bad, task = '(malformed)', queue = ARGV[5],
      attempt = 1, max_retries = 0, enqueued_at = now, deliveries = 1,
      reason = 'malformed message: not a ciq envelope', last_error = string.sub(env, 1, 500)}))
    redis.call('ZADD', KEYS[6], now, bad)
    bad_count = bad_count + 1
  end
end
if bad_count > 0 then redis.call('HINCRBY', KEYS[7], 'dead', bad_count) end
return out
