#!/usr/bin/env python3
"""ciq against BullMQ and Celery (and against an earlier ciq build) on one private Redis.

Run through bench/peers.sh, which prepares ../shared/bench/peers (its venv and node
modules) and calls this with that directory's Python. Modes:

  compare   every config below, systems alternating within each rep, REPS reps:
            ciq new/old x history off/on at --concurrency 32 (on: every task recorded
            as that build records it; new also with the 24-byte record of earlier
            rounds, "hist-24B"), ciq new/old at c1,
            BullMQ c32, Celery prefork c2 (acks_late); then idle pickup latency
            (ciq new/old, BullMQ). Prints the markdown table with per-rep ratios.
  regress   ciq (CIQ_BIN) alone, history off/on at c32 and c1: tasks/s, Redis CPU per
            task, Redis commands per task, bytes per pending task, worker CPU per task.
            One command to see a hot-path regression.
  ab        LABEL=BIN:HIST ... (HIST: off, on, 24B): only these ciq drains at c32
            (CONC), alternating within each of REPS reps: Redis CPU, script time, tasks/s
            and bytes per pending task, medians with the per-rep Redis CPU. A quick A/B
            of two builds on one history mode.
  slowprof  one c32 drain each, history off and on (and CIQ_OLD_BIN's, history off), with
            every Redis command slowlogged: Redis time per task split per script
            (claim.lua, finish.lua, ...) and per command. CIQ_SRC / CIQ_OLD_SRC name the
            source trees whose src/broker/lua/ name the scripts (default: this tree).

The drains, systems and the private Redis are those of ../shared/bench/peers/bench.py
(imported, not copied): N no-op tasks pre-filled, 2 worker processes, `ciq:bench:done`
polled every 10 ms; Redis CPU and commandstats over spawn -> last task.
"""
import json, os, statistics, subprocess, sys, time

PEERS = os.environ["PEERS_DIR"]
sys.path.insert(0, PEERS)
import bench as B  # noqa: E402  (../shared/bench/peers/bench.py)

NEW = os.environ.get("CIQ_BIN", "target/release/ciq")
OLD = os.environ.get("CIQ_OLD_BIN")
ALT = os.environ.get("CIQ_ALT_BIN")  # compare: a third build (e.g. another allocator), c32 hist-off and c1
REPS = int(os.environ.get("REPS", "3"))
N = int(os.environ.get("N", "20000"))
N1 = int(os.environ.get("N_C1", "10000"))
LAT = int(os.environ.get("LAT_COUNT", "200"))


# History on, as old builds' `ciq enqueue` of one task stored it: a record with the whole
# message, written at enqueue.
OLD_RECORD_LUA = """for _, e in ipairs(redis.call('LRANGE', KEYS[1], 0, -1)) do
  local id = string.match(e, '"id":"([^"]+)"')
  redis.call('HSET', KEYS[2], id, '{"at":1,"ev":"enqueued","envelope":' .. e .. '}') end"""


def marks_history(binary):
    """Does this build's `ciq enqueue --count` take --history (a record made at each
    task's outcome, the pending message marked)?"""
    out = subprocess.run([binary, "enqueue", "--help"], capture_output=True, text=True).stdout
    return "--history" in out


class CiqMarked(B.Ciq):
    """history on as ciq records it since issue 20's fifth round: every message marked
    (`enqueue --count N --history`, as a single `ciq enqueue` marks it); the record is
    made at the task's outcome, so a pending task is its list entry alone."""
    def prefill(self, n, sleep_ms=0, task="noop"):
        args = {"incr": "ciq:bench:done"}
        if sleep_ms:
            args["sleep_ms"] = sleep_ms
        t0 = time.perf_counter()
        subprocess.run([self.bin, "--broker", self.rs.url, "enqueue", task, "--queue", B.Q, "--count", str(n),
                        "--history", "--args-json", json.dumps(args)], check=True, stdout=subprocess.DEVNULL)
        return time.perf_counter() - t0


class CiqOldRecord(B.Ciq):
    """history on as an older build's single `ciq enqueue` stored it (OLD_RECORD_LUA)."""
    def prefill(self, n, sleep_ms=0, task="noop"):
        el = super().prefill(n, sleep_ms, task)
        self.rs.r.eval(OLD_RECORD_LUA, 2, "ciq:{%s}:pending" % B.Q, "ciq:{%s}:history" % B.Q)
        return el


def ciq(rs, binary, name, traced=False):
    """traced: True = history on as this build really records it (marked messages, or an
    older build's enqueue-time record with the message); "24B" = the shared harness's
    24-byte record per task (B.CiqTraced), the measure of earlier rounds."""
    if traced == "24B":
        cls = B.CiqTraced
    elif traced:
        cls = CiqMarked if marks_history(binary) else CiqOldRecord
    else:
        cls = B.Ciq
    s = cls(rs)
    s.bin, s.name = binary, name
    return s


def configs(rs, mode):
    """(label, system object, worker processes, concurrency, tasks)."""
    bins = [("new", NEW), ("old", OLD)] if OLD and mode == "compare" else [("", NEW)]
    out = []
    for hist in (False, True):
        for tag, b in bins:
            out.append((f"ciq {tag} 2x c32 hist-{'on' if hist else 'off'}".replace("  ", " "),
                        ciq(rs, b, f"ciq-{tag or 'new'}", hist), 2, 32, N))
    out.append(("ciq new 2x c32 hist-24B" if OLD and mode == "compare" else "ciq 2x c32 hist-24B",
                ciq(rs, NEW, "ciq-new", "24B"), 2, 32, N))
    if ALT and mode == "compare":
        out.append(("ciq alt 2x c32 hist-off", ciq(rs, ALT, "ciq-alt"), 2, 32, N))
        bins = bins + [("alt", ALT)]
    for tag, b in bins:
        out.append((f"ciq {tag} 2x c1".replace("  ", " "), ciq(rs, b, f"ciq-{tag or 'new'}"), 2, 1, N1))
    if mode == "compare":
        out.append(("bullmq 2x c32", B.Bull(rs), 2, 32, N))
        out.append(("celery prefork c2 acks_late", B.Celery(rs), 1, 2, int(os.environ.get("N_CELERY", "5000"))))
    return out


def latency(rs, meta, rows):
    systems = [("ciq new", ciq(rs, NEW, "ciq-new"), "ciq")]
    if OLD:
        systems.append(("ciq old", ciq(rs, OLD, "ciq-old"), "ciq"))
    systems.append(("bullmq", B.Bull(rs), "bull"))
    for rep in range(REPS):
        for label, s, kind in systems:
            rs.r.flushdb()
            w = s.workers(1, 32)
            time.sleep(2.0)
            out = subprocess.run([B.NODE, os.path.join(PEERS, "node", "latprobe.js"), kind, str(LAT), "20"],
                                 capture_output=True, text=True, env=dict(os.environ, REDIS_PORT=str(rs.port)))
            w.stop()
            res = json.loads(out.stdout.strip().splitlines()[-1])
            rec = {"kind": "latency", "tag": label, "rep": rep, **res, **meta}
            B.emit(rec)
            rows.append(rec)


def med(xs):
    xs = [x for x in xs if x is not None]
    return statistics.median(xs) if xs else float("nan")


def table(rows, mode):
    drains = {}
    for r in rows:
        if r["kind"] == "drain":
            drains.setdefault(r["tag"], []).append(r)
    lines = ["| config | tasks/s (steady) | Redis CPU µs/task | cmds/task | bytes/pending task | worker CPU µs/task |",
             "|---|---:|---:|---:|---:|---:|"]
    for tag, rs in drains.items():
        tps = [r["steady_tps"] or r["wall_tps"] for r in rs]
        lines.append(f"| {tag} | {med(tps):,.0f} ({min(tps):,.0f}–{max(tps):,.0f}) | {med(r['redis_cpu_us_per_task'] for r in rs):.1f} | "
                     f"{med(r['cmds_per_task'] for r in rs):.2f} | {med(r['mem_per_task_B'] for r in rs):.0f} | "
                     f"{med(r['worker_cpu_us_per_task'] for r in rs):.1f} |")
    lat = {}
    for r in rows:
        if r["kind"] == "latency":
            lat.setdefault(r["tag"], []).append(r)
    if lat:
        lines += ["", "| idle pickup (enqueue call -> task start) | p50 ms | p99 ms |", "|---|---:|---:|"]
        for tag, rs in lat.items():
            lines.append(f"| {tag} | {med(r['p50_ms'] for r in rs):.2f} | {med(r['p99_ms'] for r in rs):.2f} |")
    if mode == "compare":
        def ratio(a, b, key="tps"):
            by = {}
            for r in rows:
                if r["kind"] == "drain" and r["tag"] in (a, b):
                    v = r["steady_tps"] or r["wall_tps"] if key == "tps" else r[key]
                    by.setdefault(r["rep"], {})[r["tag"]] = v
            rs = [d[a] / d[b] for d in by.values() if a in d and b in d and d[b]]
            return f"{med(rs):.2f}× ({min(rs):.2f}–{max(rs):.2f})" if rs else "-"
        lines += ["", "Ratios, median of per-rep ratios (min–max):", ""]
        pairs = [("ciq new 2x c32 hist-off", "bullmq 2x c32"), ("ciq new 2x c32 hist-on", "bullmq 2x c32"),
                 ("ciq new 2x c32 hist-off", "celery prefork c2 acks_late"),
                 ("ciq new 2x c32 hist-on", "celery prefork c2 acks_late"),
                 ("ciq old 2x c32 hist-off", "bullmq 2x c32"), ("ciq old 2x c32 hist-on", "bullmq 2x c32"),
                 ("ciq old 2x c32 hist-on", "celery prefork c2 acks_late"),
                 ("ciq new 2x c32 hist-off", "ciq old 2x c32 hist-off"), ("ciq new 2x c32 hist-on", "ciq old 2x c32 hist-on"),
                 ("ciq new 2x c32 hist-24B", "bullmq 2x c32"), ("ciq new 2x c32 hist-24B", "ciq old 2x c32 hist-on"),
                 ("ciq new 2x c1", "ciq old 2x c1"), ("ciq new 2x c32 hist-off", "ciq alt 2x c32 hist-off"),
                 ("ciq new 2x c1", "ciq alt 2x c1")]
        for a, b in pairs:
            if a in drains and b in drains:
                lines.append(f"- throughput {a} / {b}: {ratio(a, b)}")
        for a, b in [p for p in pairs if p[0].startswith("ciq new") and p[1].startswith("ciq")]:
            if a in drains and b in drains:
                lines.append(f"- Redis CPU per task {a} / {b}: {ratio(a, b, 'redis_cpu_us_per_task')}")
    return "\n".join(lines)


def slowprof():
    os.environ.setdefault("CIQ_SRC", os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    os.environ.setdefault("HIST_N", str(N))
    B.CIQ = NEW  # the harness's own Ciq() default binary
    os.makedirs(os.path.dirname(B.OUT), exist_ok=True)
    rs = B.RedisServer()
    try:
        B.phase_slowprof(rs, {"mode": "slowprof", "new_bin": NEW, "old_bin": OLD, "redis": rs.version})
    finally:
        rs.stop()
    for line in open(B.OUT):
        r = json.loads(line)
        if r.get("kind") != "slowprof":
            continue
        print(f"\n{r['tag']} ({r['n']} tasks): µs of Redis time per task")
        for k, v in list(r["per_task"].items())[:8]:
            print(f"  {k:32} {v['usec']:7.2f}  ({v['calls']:.4f} calls/task, {v['usec_per_call']:.1f} µs/call)")


def ab(specs):
    """`ab LABEL=BIN:HIST ...`: those drains only, alternating within each rep."""
    modes = {"off": False, "on": True, "24B": "24B"}
    parsed = []
    for spec in specs:
        label, _, rest = spec.partition("=")
        binary, _, hist = rest.rpartition(":")
        if not label or not binary or hist not in modes:
            raise SystemExit(f"ab: {spec!r}: expected LABEL=BIN:off|on|24B")
        parsed.append((label, binary, modes[hist]))
    os.makedirs(os.path.dirname(B.OUT), exist_ok=True)
    rs = B.RedisServer()
    rows = {}
    conc = int(os.environ.get("CONC", "32"))
    up0 = subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip()
    try:
        for rep in range(REPS):
            for label, binary, hist in parsed:
                rec, _ = B.drain(rs, ciq(rs, binary, label, hist), N, 2, conc, label,
                                 extra={"rep": rep, "mode": "ab", "redis": rs.version})
                rows.setdefault(label, []).append(rec)
    finally:
        rs.stop()
    up1 = subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip()
    print(f"\nload before: {up0}\nload after:  {up1}\nraw: {B.OUT}\n")
    print(f"| build (2x c{conc}) | Redis CPU µs/task | script µs/task | tasks/s | bytes/pending task | Redis CPU per rep |")
    print("|---|---:|---:|---:|---:|---|")
    for label, rs_ in rows.items():
        cpu = [r["redis_cpu_us_per_task"] for r in rs_]
        print(f"| {label} | {med(cpu):.2f} | {med(r['cmdusec_per_task'].get('evalsha', 0) for r in rs_):.2f} | "
              f"{med(r['steady_tps'] or r['wall_tps'] for r in rs_):,.0f} | {med(r['mem_per_task_B'] for r in rs_):.0f} | "
              f"{', '.join(f'{c:.1f}' for c in cpu)} |")


def main():
    mode = sys.argv[1] if len(sys.argv) > 1 else "regress"
    if mode not in ("compare", "regress", "slowprof", "ab"):
        raise SystemExit(__doc__)
    if mode == "slowprof":
        return slowprof()
    if mode == "ab":
        return ab(sys.argv[2:])
    os.makedirs(os.path.dirname(B.OUT), exist_ok=True)
    rs = B.RedisServer()
    rows = []
    up0 = subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip()
    try:
        meta = {"mode": mode, "new_bin": NEW, "old_bin": OLD, "redis": rs.version}
        for rep in range(REPS):
            for label, s, procs, conc, n in configs(rs, mode):
                rec, _ = B.drain(rs, s, n, procs, conc, label, extra={"rep": rep, **meta})
                rows.append(rec)
        if mode == "compare" and LAT:
            latency(rs, meta, rows)
    finally:
        rs.stop()
    up1 = subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip()
    print(f"\nload before: {up0}\nload after:  {up1}\nraw: {B.OUT}\n")
    print(table(rows, mode))


if __name__ == "__main__":
    main()
