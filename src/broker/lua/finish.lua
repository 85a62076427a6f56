-- finish: record the outcomes of runs this worker did (a batch), on Redis time.
-- KEYS[1] lease ZSET (not written: the lease is the worker's, see claim.lua), KEYS[2] active HASH, KEYS[3] data HASH, KEYS[4] pending LIST,
-- KEYS[5] retry ZSET, KEYS[6] dead ZSET, KEYS[7] stats HASH, KEYS[8] superseded ZSET,
-- KEYS[9] history HASH, KEYS[10] history end LIST (see history_trim.lua), KEYS[11..] the unique keys of the
-- batch's tasks (declared, so Redis Cluster and ACL key patterns see every key touched)
-- ARGV[1] worker id, ARGV[2] unique key prefix, ARGV[3] dead cap,
-- ARGV[4] history retention ms, ARGV[5] history cap (ended tasks per queue),
-- then groups of 8: id, claim token, kind (done|retry|defer|dead|requeue|failed|fenced), envelope
-- JSON (for done: the output tail, maybe empty), retry delay ms (due = Redis now +
-- delay), unique key ('' = none), task name, the run's attempt (as claimed; 0 = unknown:
-- read from the active entry), followed by "|<enqueued ms>" when the message is marked
-- for a history record made at its first outcome (`"h":true`, src/broker/envelope.rs).
-- 'failed' is dead after a permanent failure (counted as failed, not exhausted).
-- 'defer' waits in the retry set like 'retry' but is counted as deferred (not a failure).
-- 'fenced': the worker stopped this run itself because it could not renew the lease in
-- time (or was told the run was superseded). Still current: back to pending like
-- 'requeue' (not an attempt). Superseded: nothing changes but the task's history, which
-- gets a 'fenced' event saying why the run stopped.
-- Counters per queue and per task (`done`, `done:<task>`, ...) and the last time each
-- task succeeded or failed (`last_done:<task>`, `last_failed:<task>`) go to the stats
-- hash, summed per batch.
-- An outcome applies only while the active entry carries this worker and this token.
-- returns one entry per run: 1 applied; 0 refused, the run was superseded (its lease
-- expired and the task was recovered: another run's outcome counts, and the unique key
-- stays with it); 2 already applied (a retried write whose first reply was lost: the
-- entry is gone and no sweep recovered it, and only this run could have removed it).
-- The active entries of the batch are read with one HMGET and the applied runs' active
-- entries removed with one HDEL (the lease is the worker's), so the Redis commands per call
-- hardly grow with the batch. A task that appears twice in one batch (an earlier run
-- stopped, and the newer run, both ending together) is judged as if the items were
-- applied one after another: once one of its runs applied, its active entry is gone.
-- now: Redis time in ms (the caller's one TIME).
local function finish(KEYS, ARGV, now)
  local res = {}
  -- Counters and last times are kept per field and task name and joined into hash fields
  -- once per batch (no string built per task).
  local ndone, lastdone = {}, {}
  local counts = {done = ndone}
  local last = {last_done = lastdone}
  local function stamp(field, task)
    local per = last[field]
    if not per then per = {}; last[field] = per end
    per[task] = true
  end
  local died = false
  local function count(field, task)
    local per = counts[field]
    if not per then per = {}; counts[field] = per end
    per[task] = (per[task] or 0) + 1
  end
  local declared = {}
  for i = 11, #KEYS do declared[KEYS[i]] = true end
  local ids, nids = {}, 0
  for i = 6, #ARGV, 8 do
    local uniq = ARGV[i + 5]
    if uniq ~= '' and not declared[ARGV[2] .. uniq] then
      return redis.error_reply('ciq finish: unique key ' .. ARGV[2] .. uniq .. ' not declared')
    end
    nids = nids + 1
    ids[nids] = ARGV[i]
  end
  if nids == 0 then return res end
  local curs = redis.call('HMGET', KEYS[2], unpack(ids))
  local wp = ARGV[1] .. '|'
  local wlen = #wp
  local taken, applied, napplied = {}, {}, 0  -- ids applied in this batch (set, list): their active entry goes (HDEL below)
  local hj, nhj = {}, 0  -- history: per applied item, its ARGV index, active entry, claimed-at offset
  for j = 1, nids do
    local i = 6 + 8 * (j - 1)
    local id, token, kind, env = ARGV[i], ARGV[i + 1], ARGV[i + 2], ARGV[i + 3]
    local cur = curs[j]
    if taken[id] then cur = false end
    -- Is the entry "<this worker>|<this token>|..."? Compared in place (no string made).
    local after = wlen + #token + 1
    if (not cur) or string.find(cur, wp, 1, true) ~= 1 or string.find(cur, token, wlen + 1, true) ~= wlen + 1
      or string.byte(cur, after) ~= 124 then
      if cur or redis.call('ZSCORE', KEYS[8], token) then
        res[j] = 0
        if kind == 'fenced' then
          local line = redis.call('HGET', KEYS[9], id)
          if line then
            local e = {at = now, ev = 'fenced', worker = ARGV[1]}
            local ok, te = pcall(cjson.decode, env)
            if ok and type(te) == 'table' then e.error = te.last_error end
            redis.call('HSET', KEYS[9], id, line .. '\n' .. cjson.encode(e))
          end
        end
      else
        res[j] = 2
      end
    else
      taken[id] = true
      napplied = napplied + 1
      applied[napplied] = id
      local task = ARGV[i + 6]
      local release = false
      if kind == 'done' then
        -- The common case, counted inline (as count('done', task); stamp('last_done', task)).
        ndone[task] = (ndone[task] or 0) + 1
        lastdone[task] = true
        release = true
      elseif kind == 'retry' then
        redis.call('HSET', KEYS[3], id, env)
        redis.call('ZADD', KEYS[5], now + tonumber(ARGV[i + 4]), id)
        count('retried', task)
        stamp('last_failed', task)
      elseif kind == 'defer' then
        redis.call('HSET', KEYS[3], id, env)
        redis.call('ZADD', KEYS[5], now + tonumber(ARGV[i + 4]), id)
        count('deferred', task)
      elseif kind == 'requeue' or kind == 'fenced' then
        redis.call('RPUSH', KEYS[4], env)
      else
        redis.call('HSET', KEYS[3], id, env)
        redis.call('ZADD', KEYS[6], now, id)
        count(kind == 'failed' and 'failed' or 'dead', task)
        stamp('last_failed', task)
        died = true
        release = true
      end
      hj[nhj + 1] = i
      hj[nhj + 2] = cur
      hj[nhj + 3] = after + 1
      nhj = nhj + 3
      local uniq = ARGV[i + 5]
      if release and uniq ~= '' then
        local k = ARGV[2] .. uniq
        if redis.call('GET', k) == id then redis.call('DEL', k) end
      end
      res[j] = 1
    end
  end
  for s = 1, napplied, 1000 do
    local e = math.min(s + 999, napplied)
    redis.call('HDEL', KEYS[2], unpack(applied, s, e))
  end
  for f, per in pairs(counts) do
    local total = 0
    for task, n in pairs(per) do
      redis.call('HINCRBY', KEYS[7], f .. ':' .. task, n)
      total = total + n
    end
    if total > 0 then redis.call('HINCRBY', KEYS[7], f, total) end
  end
  local lastset = {}
  for f, tasks in pairs(last) do
    for task in pairs(tasks) do
      lastset[#lastset + 1] = f .. ':' .. task
      lastset[#lastset + 1] = now
    end
  end
  if #lastset > 0 then redis.call('HSET', KEYS[7], unpack(lastset)) end
  if died then
    local over = redis.call('ZCARD', KEYS[6]) - tonumber(ARGV[3])
    if over > 0 then
      local old = redis.call('ZPOPMIN', KEYS[6], over)
      for j = 1, #old, 2 do redis.call('HDEL', KEYS[3], old[j]) end
    end
  end
  -- History: each task's claim and outcome appended to its record (one HMGET, one HSET per
  -- batch); ended tasks appended to the end list (one RPUSH), which trims the records by
  -- age and count (history_trim.lua).
  -- A claim followed by a success without output (the common case) is one compact line,
  -- "~<claimed ms>|<attempt>|<done ms>|<worker>", which the readers expand into the
  -- `claimed` and `done` events (src/broker/history.rs); everything else is JSON lines.
  -- A message marked for a record made at its first outcome (its attempt argument carries
  -- "|<enqueued ms>") has no record yet: every transition that records a task whose
  -- message lives on stores that message unmarked (the worker's retry, dead and release
  -- outcomes, the sweep, the durability requeue), so only unmarked items are read.
  if nhj > 0 then
    local hids, nh, nq = {}, 0, 0
    local atts, enqs, slot = {}, {}, {}
    for j = 1, nhj, 3 do
      nh = nh + 1
      local a = ARGV[hj[j] + 7]
      local mark = string.find(a, '|', 2, true)
      if mark then
        enqs[nh] = string.sub(a, mark + 1)
        atts[nh] = string.sub(a, 1, mark - 1)
      else
        atts[nh] = a
        nq = nq + 1
        hids[nq] = ARGV[hj[j]]
        slot[nh] = nq
      end
    end
    local old = nq > 0 and redis.call('HMGET', KEYS[9], unpack(hids)) or {}
    local wq = cjson.encode(ARGV[1])
    local nows = tostring(now)
    local donetail = '|' .. nows .. '|' .. ARGV[1]
    local endbar = nows .. '|'
    local set, ended, ns, ne = {}, {}, 0, 0
    local evname = {retry = 'retried', defer = 'deferred', requeue = 'released'}
    for j = 1, nh do
      local i, cur = hj[3 * j - 2], hj[3 * j - 1]
      local id, kind, env = ARGV[i], ARGV[i + 2], ARGV[i + 3]
      -- A first-attempt success with no record yet is recorded when its message is marked
      -- `"h":true` (queued by `ciq enqueue` one at a time, or `--count --history`: the
      -- record is made here, with the message as submitted); unmarked (bulk `--count`, a
      -- raw LPUSH) it is not: that keeps the bulk path at full speed. Everything else is.
      local line = slot[j] and old[slot[j]]
      local from = hj[3 * j]
      local attempt, enq = atts[j], enqs[j]
      local marked = (not line) and (enq or (attempt == '0' and string.find(cur, ',"h":true', from, true)))
      if line or kind ~= 'done' or marked then
        local bar = string.find(cur, '|', from, true)
        local claimed = bar and string.sub(cur, from, bar - 1) or nows
        if attempt == '0' or not (line or enq) then
          -- The attempt (an older worker) or the enqueue time (no record yet) from the
          -- active entry's message.
          attempt, enq = string.match(cur, '"attempt":(%d+),"max_retries":%d+,"enqueued_at":(%d+)')
          if not attempt then
            -- A message re-encoded by a Lua script (a sweep) has its keys in another order.
            local ok, te = pcall(cjson.decode, string.sub(cur, (string.find(cur, '{', 1, true) or 1)))
            if ok and type(te) == 'table' then attempt, enq = tonumber(te.attempt), tonumber(te.enqueued_at) end
          end
        end
        local written = false
        if not line and marked and bar and kind == 'done' and env == '' then
          -- The common marked case, one string: the record a single enqueue once wrote
          -- (the message as submitted) and the compact run line (as below).
          set[ns + 1] = id
          set[ns + 2] = '{"at":' .. (enq or now) .. ',"ev":"enqueued","envelope":' .. string.sub(cur, bar + 1) .. '}\n~'
            .. claimed .. '|' .. (attempt or 0) .. donetail
          ns = ns + 2
          written = true
        elseif not line then
          if marked and bar then
            -- The record a single enqueue once wrote, now written here: the message as
            -- submitted (the task's name is in it).
            line = '{"at":' .. (enq or now) .. ',"ev":"enqueued","envelope":' .. string.sub(cur, bar + 1) .. '}'
          else
            line = '{"at":' .. (enq or now) .. ',"ev":"enqueued","task":' .. cjson.encode(ARGV[i + 6]) .. '}'
          end
        end
        if written then
          -- (above)
        elseif kind == 'done' and env == '' then
          set[ns + 1] = id
          set[ns + 2] = line .. '\n~' .. claimed .. '|' .. (attempt or 0) .. donetail
          ns = ns + 2
        else
          local outcome
          if kind == 'done' then
            outcome = '{"at":' .. nows .. ',"ev":"done","output":' .. cjson.encode(env) .. '}'
          else
            local e = {at = now, ev = evname[kind] or kind}
            local ok, te = pcall(cjson.decode, env)
            if ok and type(te) == 'table' then e.error = te.last_error; e.reason = te.reason end
            if kind == 'retry' or kind == 'defer' then e.next_at = now + (tonumber(ARGV[i + 4]) or 0) end
            outcome = cjson.encode(e)
          end
          set[ns + 1] = id
          ns = ns + 2
          set[ns] = line .. '\n{"at":' .. claimed .. ',"ev":"claimed","worker":' .. wq .. ',"attempt":' .. (attempt or 'null') .. '}\n' .. outcome
        end
        if kind == 'done' or kind == 'dead' or kind == 'failed' then
          ne = ne + 1
          ended[ne] = endbar .. id
          local uniq = ARGV[i + 5]
          if uniq ~= '' then
            set[ns + 1] = 'u:' .. uniq
            set[ns + 2] = id
            ns = ns + 2
            ne = ne + 1
            ended[ne] = endbar .. 'u:' .. uniq
          end
        end
      end
    end
    if ns > 0 then redis.call('HSET', KEYS[9], unpack(set)) end
    if ne > 0 then
      local len = redis.call('RPUSH', KEYS[10], unpack(ended))
      history_trim(KEYS[10], KEYS[9], now - tonumber(ARGV[4]), tonumber(ARGV[5]), len)
    end
  end
  return res
end
