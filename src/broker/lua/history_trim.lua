-- history_trim: keep a queue's task histories within their age and count. The trim
-- index is a LIST of "<end ms>|<id>" (and "<end ms>|u:<key>", the field naming a unique
-- key's last holder), appended as tasks end, oldest first: O(1) per task where a sorted
-- set was O(log n). A task that ends again (requeued from dead, then ended) is listed
-- again, and one that is requeued stays listed, so an entry taken off the head deletes
-- the record only when the record still says its task ended at that very time; a
-- `u:` field goes with its holder's record.
-- ends: the LIST, hist: the history HASH, cutoff: end times at or before it are past the
-- retention (ms), cap: at most this many entries, len: the list's length (RPUSH's
-- reply). Takes at most 1,000 entries a call.
local history_ends_of = {done = true, dead = true, failed = true, canceled = true, purged = true}

-- The end time (ms, a string) a history record says its task ended at: its last event,
-- read past `fenced` notes (a superseded run's late word), when that is an end; nil
-- while the task is live again.
local function history_ended_at(rec)
  local starts, n, pos = {1}, 1, 1
  while true do
    local nl = string.find(rec, '\n', pos, true)
    if not nl then break end
    n = n + 1
    starts[n] = nl + 1
    pos = nl + 1
  end
  for k = n, 1, -1 do
    local s = starts[k]
    if string.byte(rec, s) == 126 then  -- "~<claimed>|<attempt>|<done ms>|<worker>"
      return string.match(rec, '^~%d+|%d+|(%d+)|', s)
    end
    local line = string.sub(rec, s, (starts[k + 1] or #rec + 2) - 2)
    local ev = string.match(line, '"ev":"(%a+)"')
    if ev ~= 'fenced' then
      if history_ends_of[ev] then return string.match(line, '"at":(%d+)') end
      return nil
    end
  end
  return nil
end

local function history_trim(ends, hist, cutoff, cap, len)
  local take = len - cap
  local first = redis.call('LINDEX', ends, 0)
  if first and tonumber(string.match(first, '^%d+') or 0) <= cutoff then
    local head = redis.call('LRANGE', ends, 0, 999)
    local old = 0
    for i = 1, #head do
      if tonumber(string.match(head[i], '^%d+') or 0) > cutoff then break end
      old = i
    end
    if old > take then take = old end
  end
  if take <= 0 then return end
  local gone = {}  -- ids whose record this call deleted
  for _, e in ipairs(redis.call('LPOP', ends, math.min(take, 1000))) do
    local bar = string.find(e, '|', 1, true)
    if bar then
      local ms, m = string.sub(e, 1, bar - 1), string.sub(e, bar + 1)
      if string.sub(m, 1, 2) == 'u:' then
        local holder = redis.call('HGET', hist, m)
        if holder then
          local rec = not gone[holder] and redis.call('HGET', hist, holder)
          if not rec or history_ended_at(rec) == ms then redis.call('HDEL', hist, m) end
        end
      else
        local rec = redis.call('HGET', hist, m)
        if rec and history_ended_at(rec) == ms then
          redis.call('HDEL', hist, m)
          gone[m] = true
        end
      end
    end
  end
end
