# Sourced by the drain benches: fill_bench_queue BIN URL N TRACED puts N no-op tasks on the
# `bench` queue (each bumps ciq:bench:done when it runs); TRACED=1 gives every one an
# "enqueued" history record first, as a single `ciq enqueue` does (bulk `--count` tasks
# are otherwise recorded only when they fail). Needs rc() (redis-cli for the bench Redis).
fill_bench_queue() {
  "$1" --broker "$2" enqueue noop --queue bench --count "$3" --arg incr=ciq:bench:done >/dev/null
  if [ "$4" = 1 ]; then
    rc eval "for _, e in ipairs(redis.call('LRANGE', KEYS[1], 0, -1)) do
      local id = string.match(e, '\"id\":\"([^\"]+)\"')
      redis.call('HSET', KEYS[2], id, '{\"at\":1,\"ev\":\"enqueued\"}') end" \
      2 'ciq:{bench}:pending' 'ciq:{bench}:history' >/dev/null
  fi
}
