-- cancel: a pending, scheduled or retrying task becomes canceled; a running one only
-- when asked to terminate it: its active entry and lease go, and its run's claim token
-- joins the superseded set (as a sweep does), so the run is told to stop at its next
-- renewal and its late outcome is refused. Its history records `canceled`, the unique
-- key is released (when this task holds it). A dead or ended task is left alone.
-- KEYS[1] pending LIST, KEYS[2] scheduled ZSET, KEYS[3] retry ZSET, KEYS[4] data HASH,
-- KEYS[5] lease ZSET, KEYS[6] active HASH, KEYS[7] superseded ZSET (token -> ms),
-- KEYS[8] history HASH, KEYS[9] history end LIST (see history_trim.lua), KEYS[10] stats HASH,
-- KEYS[11] the task's unique key as the caller read it (declared), or any key of the
-- queue when it has none
-- ARGV[1] id, ARGV[2] the pending message exactly as the caller read it ('' = not seen
-- pending), ARGV[3] "1" to terminate a running task, ARGV[4] now ms,
-- ARGV[5] who cancels (for the history), ARGV[6] the unique key itself ('' = none)
-- returns {1, from state} canceled; {0, ''} no such live task (the caller tells dead
-- and ended tasks apart); {2, 'active'} running and not asked to terminate; {4, key}
-- the task's unique key is not the declared one (read again and retry)
local id, now = ARGV[1], tonumber(ARGV[4])
local function decl_ok(env)
  local ok, t = pcall(cjson.decode, env or '')
  if ok and type(t) == 'table' and type(t.unique_key) == 'string' and t.unique_key ~= ARGV[6] then
    return false, t.unique_key
  end
  return true, (ok and type(t) == 'table') and t or nil
end
local from, task, worker, claimed, raw = nil, nil, nil, nil, nil
local cur = redis.call('HGET', KEYS[6], id)
if cur then
  if ARGV[3] ~= '1' then return {2, 'active'} end
  local w, token, claimed_ms, env = string.match(cur, '^([^|]*)|(%d+)|(%d+)|(.*)$')
  local ok, t = decl_ok(env)
  if not ok then return {4, t} end
  redis.call('ZREM', KEYS[5], id)
  redis.call('HDEL', KEYS[6], id)
  if token then redis.call('ZADD', KEYS[7], now, token) end
  from, task, worker, claimed, raw = 'active', t, w, tonumber(claimed_ms), env
else
  for _, s in ipairs({{KEYS[2], 'scheduled'}, {KEYS[3], 'retry'}}) do
    if not from and redis.call('ZSCORE', s[1], id) then
      local ok, t = decl_ok(redis.call('HGET', KEYS[4], id))
      if not ok then return {4, t} end
      redis.call('ZREM', s[1], id)
      redis.call('HDEL', KEYS[4], id)
      from, task = s[2], t
    end
  end
  if not from and ARGV[2] ~= '' then
    local ok, t = decl_ok(ARGV[2])
    if not ok then return {4, t} end
    if redis.call('LREM', KEYS[1], 1, ARGV[2]) == 1 then from, task, raw = 'pending', t, ARGV[2] end
  end
end
if not from then return {0, ''} end
if ARGV[6] ~= '' and redis.call('GET', KEYS[11]) == id then redis.call('DEL', KEYS[11]) end
local line = redis.call('HGET', KEYS[8], id)
if not line and task and task.h == true and raw then
  -- Marked for a record made at its first outcome (`"h":true`): this is it, with the
  -- message as submitted.
  line = '{"at":' .. (tonumber(task.enqueued_at) or now) .. ',"ev":"enqueued","envelope":' .. raw .. '}'
elseif not line then
  line = cjson.encode({at = (task and tonumber(task.enqueued_at)) or now, ev = 'enqueued', task = task and task.task or nil})
end
-- The canceled run's claim: its finish, which would have recorded it, will be refused.
if claimed then
  line = line .. '\n' .. cjson.encode({at = claimed, ev = 'claimed', worker = worker, attempt = task and tonumber(task.attempt) or nil})
end
local ev = {at = now, ev = 'canceled', from = from, reason = 'canceled by ' .. ARGV[5]}
if worker then ev.worker = worker end
redis.call('HSET', KEYS[8], id, line .. '\n' .. cjson.encode(ev))
redis.call('RPUSH', KEYS[9], now .. '|' .. id)
redis.call('HINCRBY', KEYS[10], 'canceled', 1)
return {1, from}
