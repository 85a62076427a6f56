-- sweep: recover tasks whose lease expired (their worker died, hung or was paused),
-- judged by the Redis server's clock. Atomic, so each expired task is recovered by
-- exactly one sweeper. A recovery counts as an attempt. The expired run's token goes
-- to the superseded set, so its late outcome is refused as superseded (kept a day).
-- A lease is the worker's (see claim.lua): one member per worker in KEYS[1]. KEYS[10]
-- is the lease set from before that, one member per task id, still swept so that runs
-- of an older worker are recovered too. Only when some lease expired does the sweep
-- read the active entries (one HGETALL: as many as are running), taking those of an
-- expired worker or with an expired lease of their own; an expired member goes once
-- none of its runs is left.
-- KEYS[1] leases ZSET (worker id -> expiry ms), KEYS[2] active HASH, KEYS[3] data HASH,
-- KEYS[4] pending LIST, KEYS[5] dead ZSET, KEYS[6] stats HASH, KEYS[7] superseded ZSET
-- (token -> ms), KEYS[8] history HASH, KEYS[9] history end LIST (see history_trim.lua), KEYS[10] the older
-- lease ZSET (task id -> expiry ms), KEYS[11..] the unique keys of the tasks the caller
-- saw expiring (declared: Redis Cluster and ACLs see every key touched); an expired task
-- whose unique key is not among them waits for the next sweep
-- ARGV[1] max tasks, ARGV[2] unique key prefix, ARGV[3] max deliveries,
-- ARGV[4] overdue ms: only leases that expired at least this long ago (0 for the queue's
-- upkeep holder; a backstop sweep by any other worker passes more, so it acts only
-- when the holder has stopped sweeping)
-- returns {recovered, dead}
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local cutoff = now - tonumber(ARGV[4] or 0)
local lapsed = {}  -- {set key, member}: every expired lease
for _, k in ipairs({KEYS[1], KEYS[10]}) do
  for _, m in ipairs(redis.call('ZRANGEBYSCORE', k, '-inf', cutoff, 'LIMIT', 0, 1000)) do
    lapsed[#lapsed + 1] = {k, m}
  end
end
if #lapsed == 0 then return {0, 0} end
local gone, keep = {}, {}  -- members expired; members with a run left behind
for _, l in ipairs(lapsed) do gone[l[2]] = true end
local max = tonumber(ARGV[1])
local ids, curs = {}, {}
local all = redis.call('HGETALL', KEYS[2])
for j = 1, #all, 2 do
  local id, cur = all[j], all[j + 1]
  local worker = string.match(cur, '^[^|]*')
  if gone[worker] or gone[id] then
    if #ids < max then
      ids[#ids + 1] = id
      curs[#ids] = cur
    else
      keep[worker] = true
      keep[id] = true
    end
  end
end
local recovered, dead = 0, 0
local declared = {}
for i = 11, #KEYS do declared[KEYS[i]] = true end
local function undeclared(cur)
  local ok, t = pcall(cjson.decode, string.match(cur or '', '^[^|]*|[^|]*|[^|]*|(.*)$') or '')
  return ok and type(t) == 'table' and type(t.unique_key) == 'string'
    and not declared[ARGV[2] .. t.unique_key]
end
-- History: append events to the task's record (started from its envelope when absent;
-- a message marked for a record, `"h":true`, is kept in it as submitted: raw).
local function history(task, events, ended, raw, marked)
  local line = redis.call('HGET', KEYS[8], task.id)
  if not line and marked == true and raw then
    line = '{"at":' .. (tonumber(task.enqueued_at) or now) .. ',"ev":"enqueued","envelope":' .. raw .. '}'
  elseif not line then
    line = cjson.encode({at = tonumber(task.enqueued_at) or now, ev = 'enqueued', task = task.task})
  end
  for _, e in ipairs(events) do line = line .. '\n' .. cjson.encode(e) end
  redis.call('HSET', KEYS[8], task.id, line)
  if ended then redis.call('RPUSH', KEYS[9], now .. '|' .. task.id) end
end
for j, id in ipairs(ids) do
  local cur = curs[j]
  if undeclared(cur) then
    keep[string.match(cur, '^[^|]*')] = true
    keep[id] = true
  else
    redis.call('HDEL', KEYS[2], id)
    -- "<worker>|<token>|<claimed ms>|<envelope>"
    local worker, token, claimed_ms, env = string.match(cur, '^([^|]*)|(%d+)|(%d+)|(.*)$')
    if not token then worker, claimed_ms, env = string.match(cur, '^([^|]*)|(%d+)|(.*)$') end -- before tokens
    if token then redis.call('ZADD', KEYS[7], now, token) end
    local ok, t = pcall(cjson.decode, env or '')
    if not ok or type(t) ~= 'table' then
      t = {v = 1, id = id, task = '(malformed)', attempt = 1, max_retries = 0, enqueued_at = now, last_error = string.sub(env or cur, 1, 500)}
    end
    -- The lost run's claim: its worker died before its finish could record it.
    local claim = {at = tonumber(claimed_ms) or now, ev = 'claimed', worker = worker, attempt = tonumber(t.attempt) or 1}
    t.attempt = (tonumber(t.attempt) or 1) + 1
    t.deliveries = (tonumber(t.deliveries) or 0) + 1
    t.last_error = 'lease expired: worker ' .. (worker or '?') .. ' stopped renewing it'
    t.id = id
    -- The recovery records the task (history() below): its message goes on unmarked.
    local marked = t.h
    t.h = nil
    local expired = {at = now, ev = 'lease_expired', worker = worker, error = t.last_error}
    if t.attempt > (tonumber(t.max_retries) or 0) + 1 or t.deliveries >= tonumber(ARGV[3]) then
      t.reason = 'worker lost during the last allowed attempt (lease expired ' .. t.deliveries .. ' times)'
      redis.call('HSET', KEYS[3], id, cjson.encode(t))
      redis.call('ZADD', KEYS[5], now, id)
      redis.call('HINCRBY', KEYS[6], 'dead', 1)
      history(t, {claim, expired, {at = now, ev = 'dead', reason = t.reason, error = t.last_error}}, true, env, marked)
      if type(t.unique_key) == 'string' then
        local k = ARGV[2] .. t.unique_key
        if declared[k] and redis.call('GET', k) == id then redis.call('DEL', k) end
      end
      dead = dead + 1
    else
      redis.call('RPUSH', KEYS[4], cjson.encode(t))
      history(t, {claim, expired}, false, env, marked)
      recovered = recovered + 1
    end
  end
end
for _, l in ipairs(lapsed) do
  if not keep[l[2]] then redis.call('ZREM', l[1], l[2]) end
end
if recovered > 0 then redis.call('HINCRBY', KEYS[6], 'recovered', recovered) end
if #ids > 0 then redis.call('ZREMRANGEBYSCORE', KEYS[7], '-inf', now - 86400000) end
return {recovered, dead}
