-- finish_claim: a batch's outcomes (finish.lua) and the claim that refills the slots
-- they free (claim.lua) in one script call, on one reading of the Redis clock: at
-- `--concurrency 1` a task costs one round trip, one EVALSHA and one TIME.
-- KEYS: ARGV[1] of finish's keys, then claim's; ARGV[2] the number of finish's ARGV,
-- then finish's ARGV, then claim's (see finish.lua and claim.lua).
-- returns {finish's reply, claim's reply}. An error in the outcomes (an undeclared
-- unique key) fails the whole call before anything is claimed.
local nk, na = tonumber(ARGV[1]), tonumber(ARGV[2])
local fk, fa, ck, ca = {}, {}, {}, {}
for i = 1, nk do fk[i] = KEYS[i] end
for i = nk + 1, #KEYS do ck[i - nk] = KEYS[i] end
for i = 1, na do fa[i] = ARGV[i + 2] end
for i = na + 3, #ARGV do ca[i - na - 2] = ARGV[i] end
local now = redis_now()
local done = finish(fk, fa, now)
if done.err then return done end
return {done, claim(ck, ca, function() return now end)}
