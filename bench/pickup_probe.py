"""ciq pickup latency, measured two ways against a running `ciq work -Q bench_q` (with a
ciq.toml that declares it: `[queues]` `bench_q = 1`; ciq refuses undeclared queue names).

    python bench/pickup_probe.py PORT [N]

Each probe is one LPUSH of a ciq envelope for the built-in `noop` task, whose `lat_key`
and `enq_ts` args make it RPUSH "<enq_ts> <start_ts>" first thing when it starts.
  enqueue->start        : from just before the LPUSH call (the harness's method)
  lpush-returned->start : from when the LPUSH call returned (the queue's own pickup)
"""
import sys
import time

import redis

import ulid_stub

port = int(sys.argv[1])
n = int(sys.argv[2]) if len(sys.argv) > 2 else 300
r = redis.Redis(port=port)
r.delete("ciq:bench:lat")
time.sleep(0.5)
after = {}
for _ in range(n):
    t = time.time()
    env = ('{"v":1,"id":"%s","task":"noop","queue":"bench_q","args":{"lat_key":"ciq:bench:lat",'
           '"enq_ts":%r},"attempt":1,"max_retries":3,"enqueued_at":%d}') % (ulid_stub.new(), t, int(t * 1000))
    r.lpush("ciq:{bench_q}:pending", env)
    after[round(t, 6)] = time.time()
    time.sleep(0.02)
time.sleep(0.5)
full, own = [], []
for line in r.lrange("ciq:bench:lat", 0, -1):
    a, b = line.decode().split()
    full.append((float(b) - float(a)) * 1000)
    k = round(float(a), 6)
    if k in after:
        own.append((float(b) - after[k]) * 1000)
for name, xs in (("enqueue->start", full), ("lpush-returned->start", own)):
    xs.sort()
    print("%s: n=%d p50=%.3f ms p99=%.3f ms" % (name, len(xs), xs[len(xs) // 2], xs[max(0, int(len(xs) * 0.99) - 1)]))
