-- renew: extend the lease of the runs a worker still holds (heartbeat), on Redis time.
-- The lease is the worker's (one lease-set member per worker, see claim.lua): every run
-- the worker holds is checked, and the worker's expiry moves once when any is current.
-- KEYS[1] lease ZSET (worker id -> expiry ms), KEYS[2] active HASH, KEYS[3] superseded
-- ZSET (token -> ms)
-- ARGV[1] lease ms, ARGV[2] worker id, then pairs: task id, claim token
-- returns the tokens of runs that were superseded: the task's lease expired and it was
-- recovered (and maybe claimed again), or it was canceled. A task no longer active for
-- any other reason was just finished by this very run; that is not a loss.
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local lost = {}
local current = false
for i = 3, #ARGV, 2 do
  local id, token = ARGV[i], ARGV[i + 1]
  local me = ARGV[2] .. '|' .. token .. '|'
  local cur = redis.call('HGET', KEYS[2], id)
  if cur and string.sub(cur, 1, #me) == me then
    current = true
  elseif cur or redis.call('ZSCORE', KEYS[3], token) then
    lost[#lost + 1] = token
  end
end
if current then redis.call('ZADD', KEYS[1], now + tonumber(ARGV[1]), ARGV[2]) end
return lost
