# Sourced by the drain benches: fill_bench_queue BIN URL N TRACED puts N no-op tasks on the
# `bench` queue (each bumps ciq:bench:done when it runs). TRACED=1: every task's history
# recorded as that build's single `ciq enqueue` records it: a build whose `enqueue --count`
# takes `--history` marks each message (the record is made at the task's outcome); an
# older build's record, written at enqueue with the whole message, is written here as it
# did. TRACED=24B: an "enqueued" record of 24 bytes per task (the measure of issue 20's
# earlier rounds). TRACED=0: bulk `--count` tasks, recorded only when they fail.
# Needs rc() (redis-cli for the bench Redis).
fill_bench_queue() {
  local hist=()
  if [ "$4" = 1 ] && "$1" enqueue --help | grep -q -- '--history'; then hist=(--history); fi
  "$1" --broker "$2" enqueue noop --queue bench --count "$3" "${hist[@]}" --arg incr=ciq:bench:done >/dev/null
  local record=
  if [ "$4" = 24B ]; then
    record="'{\"at\":1,\"ev\":\"enqueued\"}'"
  elif [ "$4" = 1 ] && [ ${#hist[@]} -eq 0 ]; then
    record="'{\"at\":1,\"ev\":\"enqueued\",\"envelope\":' .. e .. '}'"
  fi
  if [ -n "$record" ]; then
    rc eval "for _, e in ipairs(redis.call('LRANGE', KEYS[1], 0, -1)) do
      local id = string.match(e, '\"id\":\"([^\"]+)\"')
      redis.call('HSET', KEYS[2], id, $record) end" \
      2 'ciq:{bench}:pending' 'ciq:{bench}:history' >/dev/null
  fi
}
