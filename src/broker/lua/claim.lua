-- claim: atomically take up to N pending tasks and lease them to one worker, each under
-- a fresh fencing token (one run = one token), timed by the Redis server's clock.
-- The lease is the worker's, not each task's: one lease-set member per worker (its id,
-- unique per process), scored by expiry, set here and by renew. A worker renews every
-- run it holds at once, so one expiry per worker says the same as one per run, for one
-- ZADD per batch instead of one per task; sweep recovers the active entries of a worker
-- whose lease expired.
-- KEYS[1] pending LIST, KEYS[2] lease ZSET (worker id -> expiry ms), KEYS[3] active HASH, KEYS[4] data HASH,
-- KEYS[5] paused, KEYS[6] dead ZSET, KEYS[7] stats HASH, KEYS[8] claim token counter
-- ARGV[1] lease ms, ARGV[2] worker id, ARGV[3] max tasks, ARGV[4] queue name
-- clock(): Redis time in ms (called only when something is claimed).
-- returns {-1} when the queue is paused, {} when nothing is pending, else
-- {first token, envelope, envelope, ...}: the runs' tokens are first, first+1, ... in
-- order (one counter step per batch, strictly increasing per queue). The active entry is
-- "<worker>|<token>|<claimed ms>|<envelope>": finish, renew and sweep compare the token,
-- so a superseded run can change nothing.
-- A message without a readable id cannot be leased: it goes to dead with the reason.
-- Redis commands per call do not grow with the batch: one RPOP with a count, one HSET
-- (in slices of 1,000 tasks, to stay within Lua's unpack limit), one ZADD.
-- Per task the script does as little Lua as it can (Lua time was most of its cost): the
-- envelope's head is compared in place and the id cut out with a plain find, not a
-- pattern; numbers are turned into strings once per batch, not once per task; tables are
-- filled by counters, not `#t + 1`.
local function claim(KEYS, ARGV, clock)
  if redis.call('EXISTS', KEYS[5]) == 1 then return {-1} end
  local envs = redis.call('RPOP', KEYS[1], tonumber(ARGV[3]))
  if not envs then return {} end
  local now = clock()
  local ids, good = {}, envs
  local n, bad_count = 0, 0
  local head = '{"v":1,"id":"'
  for i = 1, #envs do
    local env = envs[i]
    local id
    if string.find(env, head, 1, true) == 1 then
      local q = string.find(env, '"', 14, true)
      if q and q > 14 then id = string.sub(env, 14, q - 1) end
    end
    if not id then
      local ok, dec = pcall(cjson.decode, env)
      if ok and type(dec) == 'table' and type(dec.id) == 'string' and dec.id ~= '' then id = dec.id end
    end
    if id then
      n = n + 1
      if bad_count > 0 then good[n] = env end
      ids[n] = id
    else
      if bad_count == 0 then good = {unpack(envs, 1, n)} end
      local bad = 'malformed-' .. now .. '-' .. string.sub(redis.sha1hex(env), 1, 12)
      redis.call('HSET', KEYS[4], bad, cjson.encode({v = 1, id = bad, task = '(malformed)', queue = ARGV[4],
        attempt = 1, max_retries = 0, enqueued_at = now, deliveries = 1,
        reason = 'malformed message: not a ciq envelope', last_error = string.sub(env, 1, 500)}))
      redis.call('ZADD', KEYS[6], now, bad)
      bad_count = bad_count + 1
    end
  end
  if bad_count > 0 then redis.call('HINCRBY', KEYS[7], 'dead', bad_count) end
  if n == 0 then return {} end
  local first = redis.call('INCRBY', KEYS[8], n) - n + 1
  local who = ARGV[2] .. '|'
  local tail = '|' .. now .. '|'
  local out = {first}
  for s = 1, n, 1000 do
    local hset, k = {}, 0
    for i = s, math.min(s + 999, n) do
      k = k + 2
      hset[k - 1] = ids[i]
      hset[k] = who .. (first + i - 1) .. tail .. good[i]
      out[i + 1] = good[i]
    end
    redis.call('HSET', KEYS[3], unpack(hset))
  end
  redis.call('ZADD', KEYS[2], now + tonumber(ARGV[1]), ARGV[2])
  return out
end
