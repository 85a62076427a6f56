-- history_move: move the older history trim index (a ZSET, member -> end ms) into the end
-- list (history_trim.lua), 1,000 entries a call, newest first onto the list's head, so
-- the list stays oldest first. Called by the sweeps while the older index exists.
-- KEYS[1] the older index ZSET, KEYS[2] the history end LIST
-- returns how many entries moved
local items = redis.call('ZREVRANGE', KEYS[1], 0, 999, 'WITHSCORES')
local ids = {}
for i = 1, #items, 2 do
  redis.call('LPUSH', KEYS[2], items[i + 1] .. '|' .. items[i])
  ids[#ids + 1] = items[i]
end
if #ids > 0 then redis.call('ZREM', KEYS[1], unpack(ids)) end
return #ids
