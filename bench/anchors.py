#!/usr/bin/env python3
"""Performance-anchor harness for Redis-backed task queues (Celery, RQ, later `ciq`).

Usage (normally driven by run-anchors.sh):
    REDIS_URL=redis://127.0.0.1:6390/0 BENCH_ALLOW_FLUSH=1 \
        python anchors.py run --systems celery,rq --n 20000 --concurrency 2 --reps 3 \
        --out raw/results.jsonl

Every measurement is one JSON line in --out; report.py turns them into markdown.

Measurements per system
  enqueue  one client enqueues N no-op tasks through the system's public API, no
           worker running; tasks/s.
  prefill  for each drain N the tasks are enqueued once through the real client (the
           last enqueue rep provides it, clock paused while snapshotting), every key is DUMPed, and
           each drain run starts from FLUSHDB + RESTORE of that snapshot: the queue
           holds byte-identical messages without paying the enqueue time again.
  drain    queue pre-filled with N no-op tasks (each task body: INCR ciq:bench:done), then
           the worker (variant) is spawned; we poll ciq:bench:done every 10 ms.
             drain_steady_tps = tasks done after the first observed completion /
                                time from that poll until the count reached N
             drain_wall_tps   = N / time from spawning the worker until count == N
           While draining we sample RSS and PSS of all worker processes (sum) every
           ~100 ms and report the peak, plus worker CPU seconds and Redis CPU seconds.
  latency  on the same, now idle, worker: enqueue --lat-count probe tasks one at a time,
           sleeping --lat-gap-ms between them; each probe RPUSHes "<enq_ts> <start_ts>"
           (enq_ts = time.time() just before the enqueue call, start_ts = time.time() at
           the start of the task body). p50/p99/max of (start - enq) in ms.

Adding a system: subclass QueueSystem, register it in SYSTEMS (see CiqSystem).
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import shlex
import signal
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass, field

import redis

HERE = os.path.dirname(os.path.abspath(__file__))
VENV_BIN = os.path.dirname(sys.executable)  # run this script with the venv's python
DONE_KEY = "ciq:bench:done"
LAT_KEY = "ciq:bench:lat"
QUEUE = os.environ.get("BENCH_QUEUE", "bench_q")
TIMEOUT_BIN = "timeout"


# --------------------------------------------------------------------------- helpers

def now() -> float:
    return time.perf_counter()


def log(msg: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def percentile(values: list[float], p: float) -> float:
    """Linear interpolation between closest ranks (same as numpy's default)."""
    xs = sorted(values)
    if not xs:
        return float("nan")
    k = (len(xs) - 1) * p / 100.0
    lo = int(k)
    hi = min(lo + 1, len(xs) - 1)
    return xs[lo] + (xs[hi] - xs[lo]) * (k - lo)


def descendants(pid: int) -> list[int]:
    out, stack = [], [pid]
    while stack:
        p = stack.pop()
        try:
            tids = os.listdir(f"/proc/{p}/task")
        except FileNotFoundError:
            continue
        for tid in tids:
            try:
                with open(f"/proc/{p}/task/{tid}/children") as f:
                    kids = [int(x) for x in f.read().split()]
            except (FileNotFoundError, ProcessLookupError):
                kids = []
            out.extend(kids)
            stack.extend(kids)
    return out


def read_mem_kb(pid: int) -> tuple[int, int]:
    """(RSS kB, PSS kB) of one process; (0, 0) if it is gone."""
    rss = pss = 0
    try:
        with open(f"/proc/{pid}/smaps_rollup") as f:
            for line in f:
                if line.startswith("Rss:"):
                    rss = int(line.split()[1])
                elif line.startswith("Pss:"):
                    pss = int(line.split()[1])
    except (FileNotFoundError, ProcessLookupError, PermissionError):
        pass
    return rss, pss


CLK_TCK = os.sysconf("SC_CLK_TCK")


def read_cpu_s(pid: int) -> float:
    """utime+stime+cutime+cstime of one process in seconds (cutime covers reaped
    children, e.g. RQ work horses)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return sum(int(x) for x in fields[11:15]) / CLK_TCK
    except (FileNotFoundError, ProcessLookupError):
        return 0.0


def cpu_calib_ms(iters: int = 1_000_000, best_of: int = 3) -> float:
    """Host-speed probe: best-of-3 time of a fixed pure-Python loop (ms). Recorded with
    every drain run so host slowdowns (noisy VM neighbours) are visible in the data."""
    best = float("inf")
    for _ in range(best_of):
        t0 = now()
        s = 0
        for i in range(iters):
            s += i * i
        best = min(best, now() - t0)
    return best * 1000.0


def redis_cpu_s(r: redis.Redis) -> float:
    info = r.info("cpu")
    return float(info["used_cpu_sys"]) + float(info["used_cpu_user"])


# --------------------------------------------------------------------------- workers

@dataclass
class WorkerSpec:
    """One worker process to spawn: argv (without the `timeout` wrapper) and env."""
    argv: list[str]
    env: dict[str, str] = field(default_factory=dict)


@dataclass
class Variant:
    """A worker configuration of a system, e.g. celery prefork + reliable."""
    name: str
    params: dict  # free-form, recorded in results
    n: int | None = None  # override of N for slow variants


class WorkerGroup:
    """Spawns WorkerSpecs under `timeout`, each in its own session/process group,
    samples their memory, and stops them by pid (TERM, then KILL of their own group)."""

    def __init__(self, specs: list[WorkerSpec], hard_timeout_s: int, log_prefix: str):
        self.procs: list[subprocess.Popen] = []
        self.logs = []
        for i, spec in enumerate(specs):
            env = dict(os.environ)
            env.update(spec.env)
            env["PYTHONPATH"] = HERE + os.pathsep + env.get("PYTHONPATH", "")
            logf = open(f"{log_prefix}.w{i}.log", "w")
            self.logs.append(logf)
            argv = [TIMEOUT_BIN, "-k", "5", str(hard_timeout_s)] + spec.argv
            logf.write("# " + shlex.join(argv) + "\n")
            logf.write("# env: " + " ".join(f"{k}={v}" for k, v in sorted(spec.env.items())) + "\n")
            logf.flush()
            self.procs.append(subprocess.Popen(argv, cwd=HERE, env=env, stdout=logf,
                                               stderr=subprocess.STDOUT,
                                               start_new_session=True))

    def worker_pids(self) -> list[int]:
        # the `timeout` wrapper itself is not counted
        pids = []
        for p in self.procs:
            pids.extend(descendants(p.pid))
        return pids

    def sample_mem(self) -> tuple[int, int, int]:
        pids = self.worker_pids()
        rss = pss = 0
        for pid in pids:
            a, b = read_mem_kb(pid)
            rss += a
            pss += b
        return rss, pss, len(pids)

    def cpu_s(self) -> float:
        return sum(read_cpu_s(pid) for pid in self.worker_pids())

    def alive(self) -> bool:
        return all(p.poll() is None for p in self.procs)

    def stop(self, grace_s: float = 15.0) -> None:
        for p in self.procs:
            if p.poll() is None:
                try:
                    os.kill(p.pid, signal.SIGTERM)  # GNU timeout relays TERM to its group
                except ProcessLookupError:
                    pass
        deadline = time.time() + grace_s
        for p in self.procs:
            try:
                p.wait(timeout=max(0.1, deadline - time.time()))
            except subprocess.TimeoutExpired:
                pass
        for p in self.procs:
            # Leftovers can only be in the group we created (pgid == our child's pid).
            try:
                os.killpg(p.pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
            try:
                p.wait(timeout=5)
            except subprocess.TimeoutExpired:
                log(f"WARNING: pid {p.pid} did not exit")
        for f in self.logs:
            f.close()


# --------------------------------------------------------------------------- systems

class QueueSystem:
    """Interface every benchmarked system implements.

    Contract for the task bodies (the worker side):
      noop task      : INCR ciq:bench:done
      latency probe  : RPUSH ciq:bench:lat "<enq_ts> <start_ts>", start_ts = time.time()
                       taken first thing in the task body, enq_ts passed as argument.
    """

    name = "base"

    def __init__(self, r: redis.Redis, redis_url: str):
        self.r = r
        self.redis_url = redis_url

    def versions(self) -> dict:
        return {}

    def enqueue_methods(self) -> list[str]:
        """Client APIs measured in the enqueue phase; the first one produces the
        prefill snapshot."""
        return ["default"]

    def enqueue_noop(self, n: int, method: str) -> None:
        raise NotImplementedError

    def enqueue_lat(self, enq_ts: float) -> None:
        raise NotImplementedError

    def queue_depth(self) -> int:
        raise NotImplementedError

    def variants(self, args) -> list[Variant]:
        raise NotImplementedError

    def worker_specs(self, variant: Variant, concurrency: int) -> list[WorkerSpec]:
        raise NotImplementedError


class CelerySystem(QueueSystem):
    name = "celery"

    def __init__(self, r, redis_url):
        super().__init__(r, redis_url)
        import celery_tasks  # client side; worker-only settings don't matter here
        self.ct = celery_tasks

    def versions(self):
        import celery
        import kombu
        return {"celery": celery.__version__, "kombu": kombu.__version__}

    def enqueue_methods(self):
        return ["delay", "send_task"]

    def enqueue_noop(self, n, method):
        if method == "delay":
            f = self.ct.noop.delay
            for _ in range(n):
                f()
        elif method == "send_task":
            send = self.ct.app.send_task
            for _ in range(n):
                send("bench.noop")
        else:
            raise ValueError(method)

    def enqueue_lat(self, enq_ts):
        self.ct.lat.delay(enq_ts)

    def queue_depth(self):
        return self.r.llen(QUEUE)

    def variants(self, args):
        out = []
        for pool in ("prefork", "threads"):
            for profile in ("reliable", "default"):
                out.append(Variant(f"{pool}/{profile}", {"pool": pool, "profile": profile}))
        return out

    def worker_specs(self, variant, concurrency):
        argv = [os.path.join(VENV_BIN, "celery"), "-A", "celery_tasks", "worker",
                "--concurrency", str(concurrency), "--pool", variant.params["pool"],
                "-Q", QUEUE, "-n", f"bench-{os.getpid()}@%h", "-l", "WARNING",
                "--without-gossip", "--without-mingle", "--without-heartbeat"]
        return [WorkerSpec(argv, {"BENCH_CELERY_PROFILE": variant.params["profile"],
                                  "REDIS_URL": self.redis_url})]


class RQSystem(QueueSystem):
    name = "rq"

    def __init__(self, r, redis_url):
        super().__init__(r, redis_url)
        from rq import Queue
        import rq_tasks
        self.q = Queue(QUEUE, connection=r)
        self.rt = rq_tasks

    def versions(self):
        import rq
        return {"rq": rq.__version__}

    def enqueue_methods(self):
        return ["enqueue"]

    def enqueue_noop(self, n, method):
        enqueue, f = self.q.enqueue, self.rt.noop
        for _ in range(n):
            enqueue(f)

    def enqueue_lat(self, enq_ts):
        self.q.enqueue(self.rt.lat, enq_ts)

    def queue_depth(self):
        return self.r.llen(f"rq:queue:{QUEUE}")

    def variants(self, args):
        return [
            Variant("SimpleWorker", {"worker_class": "rq.worker.SimpleWorker"}),
            # fork-per-job is much slower; args.rq_fork_n (default 600) keeps it short
            Variant("Worker(fork)", {"worker_class": "rq.worker.Worker"},
                    n=args.rq_fork_n or None),
        ]

    def worker_specs(self, variant, concurrency):
        # "concurrency" for RQ = number of independent `rq worker` processes
        specs = []
        for i in range(concurrency):
            argv = [os.path.join(VENV_BIN, "rq"), "worker", "--url", self.redis_url,
                    "--worker-class", variant.params["worker_class"],
                    "--name", f"bench-{os.getpid()}-{i}", "--quiet",
                    "--path", HERE, QUEUE]
            specs.append(WorkerSpec(argv, {"REDIS_URL": self.redis_url}))
        return specs


# ==================================== ciq ====================================
CIQ_BIN = os.environ.get("CIQ_BIN") or os.path.join(HERE, "..", "target", "release", "ciq")


def _ciq_config() -> str:
    """A ciq.toml declaring the bench queue: ciq refuses queue names it was not told about."""
    import tempfile
    fd, path = tempfile.mkstemp(prefix="ciq-bench-", suffix=".toml")
    with os.fdopen(fd, "w") as f:
        f.write("[queues]\n%s = 1\n" % QUEUE)
    return path


class CiqSystem(QueueSystem):
    """The Rust `ciq` binary. Its built-in `noop` task does INCR of the key named by its
    `incr` argument, and RPUSHes "<enq_ts> <start_ts>" to `lat_key` when given `enq_ts`.

    Enqueue methods:
      cli-bulk : one `ciq enqueue noop --count N` process (pipelined LPUSH), timed
                 around the subprocess, so it includes process start-up;
      wire     : one LPUSH per task of a ciq envelope from Python (what a client library
                 for the documented wire format costs: one round trip per task).
    Workers: always 2 processes (`ciq work`), with `--concurrency` 1 (like Celery's
    reliable prefork: one task at a time per process) and 32 (async in-process slots).
    """

    name = "ciq"
    config = _ciq_config()

    def versions(self):
        out = subprocess.run([CIQ_BIN, "--version"], capture_output=True, text=True)
        return {"ciq": out.stdout.strip()}

    def enqueue_methods(self):
        return ["cli-bulk", "wire"]

    def _envelope(self, args: dict) -> str:
        import ulid_stub
        return json.dumps({"v": 1, "id": ulid_stub.new(), "task": "noop", "queue": QUEUE,
                           "args": args, "attempt": 1, "max_retries": 3,
                           "enqueued_at": int(time.time() * 1000)}, separators=(",", ":"))

    def enqueue_noop(self, n, method):
        if method == "cli-bulk":
            subprocess.run([CIQ_BIN, "--config", self.config, "--broker", self.redis_url, "enqueue", "noop",
                            "--queue", QUEUE, "--count", str(n), "--arg", f"incr={DONE_KEY}"],
                           check=True, stdout=subprocess.DEVNULL)
        elif method == "wire":
            key = "ciq:{%s}:pending" % QUEUE
            lpush = self.r.lpush
            for _ in range(n):
                lpush(key, self._envelope({"incr": DONE_KEY}))
        else:
            raise ValueError(method)

    def enqueue_lat(self, enq_ts):
        self.r.lpush("ciq:{%s}:pending" % QUEUE,
                     self._envelope({"lat_key": LAT_KEY, "enq_ts": enq_ts}))

    def queue_depth(self):
        return self.r.llen("ciq:{%s}:pending" % QUEUE)

    def variants(self, args):
        return [Variant("2 procs x c1", {"concurrency": 1}),
                Variant("2 procs x c32", {"concurrency": 32})]

    def worker_specs(self, variant, concurrency):
        env = {"CIQ_LOG": "warn"}
        return [WorkerSpec([CIQ_BIN, "--config", self.config, "--broker", self.redis_url, "work", "--queues", QUEUE,
                            "--concurrency", str(variant.params["concurrency"]),
                            "--name", f"bench-{i}"], env) for i in range(2)]
# ================================== end ciq ==================================


SYSTEMS = {"celery": CelerySystem, "rq": RQSystem, "ciq": CiqSystem}


# --------------------------------------------------------------------------- phases

class Bench:
    def __init__(self, args):
        self.args = args
        self.redis_url = os.environ["REDIS_URL"]
        self.r = redis.Redis.from_url(self.redis_url)
        self.out = open(args.out, "a")
        self.prefills: dict[tuple[str, int], list] = {}
        self.drain_n = args.drain_n or args.n
        os.makedirs(args.log_dir, exist_ok=True)

    def emit(self, rec: dict) -> None:
        rec["ts"] = time.time()
        self.out.write(json.dumps(rec) + "\n")
        self.out.flush()

    def flush_db(self) -> None:
        self.r.flushdb()

    def snapshot(self) -> list[tuple[bytes, int, bytes]]:
        keys = list(self.r.scan_iter(count=5000))
        out = []
        for i in range(0, len(keys), 5000):
            chunk = keys[i:i + 5000]
            pipe = self.r.pipeline(transaction=False)
            for k in chunk:
                pipe.dump(k)
                pipe.pttl(k)
            res = pipe.execute()
            for j, k in enumerate(chunk):
                out.append((k, max(0, res[2 * j + 1]), res[2 * j]))
        return out

    def restore(self, snap) -> None:
        for i in range(0, len(snap), 5000):
            pipe = self.r.pipeline(transaction=False)
            for k, ttl, blob in snap[i:i + 5000]:
                pipe.restore(k, ttl, blob, replace=True)
            pipe.execute()

    # ---- enqueue -------------------------------------------------------------
    def phase_enqueue(self, sysobj: QueueSystem, n: int) -> None:
        """Timed enqueue of n noop tasks per client API. The first API gets --reps
        reps, further APIs (e.g. Celery send_task) --reps-enqueue-alt reps. The last
        rep of the first API also yields the prefill snapshot (for n, or for drain_n
        by pausing the clock once after the first drain_n tasks)."""
        for mi, method in enumerate(sysobj.enqueue_methods()):
            reps = self.args.reps if mi == 0 else self.args.reps_enqueue_alt
            for rep in range(reps):
                self.flush_db()
                # In the last rep of the first API, pause the clock once after drain_n
                # tasks to snapshot them as the drain prefill (saves an untimed enqueue).
                split = self.drain_n if (mi == 0 and rep == reps - 1 and 0 < self.drain_n < n) else n
                t0 = now()
                sysobj.enqueue_noop(split, method)
                dt = now() - t0
                if split < n:
                    self.prefills[(sysobj.name, split)] = self.snapshot()
                    t0 = now()
                    sysobj.enqueue_noop(n - split, method)
                    dt += now() - t0
                depth = sysobj.queue_depth()
                ok = depth == n
                self.emit({"system": sysobj.name, "phase": "enqueue", "variant": method,
                           "rep": rep, "n": n, "seconds": dt, "tps": n / dt,
                           "queue_depth": depth, "ok": ok})
                log(f"{sysobj.name} enqueue[{method}] rep{rep}: {n / dt:,.0f} tasks/s"
                    f" ({dt:.2f}s, depth={depth})")
                if mi == 0 and rep == reps - 1 and ok:
                    self.prefills[(sysobj.name, n)] = self.snapshot()
        self.flush_db()

    def prefill(self, sysobj: QueueSystem, n: int) -> bool:
        """Leave exactly n noop tasks in an otherwise empty db. The first time for a
        (system, n) they are enqueued through the client (untimed) and snapshotted;
        later calls RESTORE the snapshot (much faster than re-enqueueing)."""
        self.flush_db()
        key = (sysobj.name, n)
        if key not in self.prefills:
            sysobj.enqueue_noop(n, sysobj.enqueue_methods()[0])
            self.prefills[key] = self.snapshot()
        else:
            self.restore(self.prefills[key])
        return sysobj.queue_depth() == n

    # ---- drain + latency on one worker lifetime -------------------------------
    def phase_drain_latency(self, sysobj: QueueSystem, variant: Variant, rep: int,
                            n: int) -> None:
        a = self.args
        base = {"system": sysobj.name, "variant": variant.name, "params": variant.params,
                "rep": rep, "concurrency": a.concurrency, "cpu_calib_ms": cpu_calib_ms()}
        if not self.prefill(sysobj, n):
            depth = sysobj.queue_depth()
            self.emit({**base, "phase": "drain", "ok": False, "error": f"prefill depth {depth} != {n}"})
            log(f"ERROR prefill depth {depth} != {n}")
            return
        self.r.set(DONE_KEY, 0)
        cpu_redis0 = redis_cpu_s(self.r)
        log_prefix = os.path.join(a.log_dir, f"{sysobj.name}-{variant.name.replace('/', '_').replace('(', '_').replace(')', '')}-r{rep}")
        t_spawn = now()
        wg = WorkerGroup(sysobj.worker_specs(variant, a.concurrency), a.worker_timeout, log_prefix)
        try:
            peak_rss = peak_pss = max_procs = 0
            t_first = c_first = None
            done = 0
            deadline = t_spawn + a.worker_timeout - 20
            next_mem = t_spawn
            ok = True
            err = None
            while True:
                t = now()
                done = int(self.r.get(DONE_KEY) or 0)
                if done > 0 and t_first is None:
                    t_first, c_first = t, done
                if done >= n:
                    t_end = t
                    break
                if t >= next_mem:
                    rss, pss, np_ = wg.sample_mem()
                    peak_rss, peak_pss, max_procs = max(peak_rss, rss), max(peak_pss, pss), max(max_procs, np_)
                    next_mem = t + 0.1
                if t > deadline or not wg.alive():
                    ok, err, t_end = False, f"drain stalled at {done}/{n} (alive={wg.alive()})", t
                    break
                time.sleep(0.01)
            rss, pss, np_ = wg.sample_mem()
            peak_rss, peak_pss, max_procs = max(peak_rss, rss), max(peak_pss, pss), max(max_procs, np_)
            cpu_workers = wg.cpu_s()
            cpu_redis = redis_cpu_s(self.r) - cpu_redis0
            rec = {**base, "phase": "drain", "n": n, "ok": ok, "error": err,
                   "done": done, "wall_s": t_end - t_spawn,
                   "drain_wall_tps": done / (t_end - t_spawn),
                   "first_completion_s": (t_first - t_spawn) if t_first else None,
                   "peak_rss_mb": peak_rss / 1024, "peak_pss_mb": peak_pss / 1024,
                   "max_worker_procs": max_procs,
                   "worker_cpu_s": cpu_workers, "redis_cpu_s": cpu_redis}
            if t_first is not None and t_end > t_first:
                rec["drain_steady_tps"] = (done - c_first) / (t_end - t_first)
            self.emit(rec)
            log(f"{sysobj.name} {variant.name} rep{rep} drain n={n}: "
                f"steady {rec.get('drain_steady_tps', 0):,.0f}/s, wall {rec['drain_wall_tps']:,.0f}/s "
                f"({rec['wall_s']:.2f}s, first {rec['first_completion_s'] or -1:.2f}s), "
                f"peak RSS {rec['peak_rss_mb']:.0f} MB, ok={ok} {err or ''}")
            if not ok:
                return

            # latency on the idle, running worker
            time.sleep(a.lat_idle_s)
            self.r.delete(LAT_KEY)
            gap = a.lat_gap_ms / 1000.0
            for _ in range(a.lat_count):
                sysobj.enqueue_lat(time.time())
                time.sleep(gap)
            lat_deadline = now() + 30
            while self.r.llen(LAT_KEY) < a.lat_count and now() < lat_deadline:
                time.sleep(0.01)
            raw = [x.split() for x in self.r.lrange(LAT_KEY, 0, -1)]
            ms = [(float(s) - float(e)) * 1000.0 for e, s in raw]
            ok = len(ms) == a.lat_count
            rec = {**base, "phase": "latency", "count": len(ms), "ok": ok,
                   "gap_ms": a.lat_gap_ms,
                   "p50_ms": percentile(ms, 50), "p99_ms": percentile(ms, 99),
                   "max_ms": max(ms) if ms else None, "min_ms": min(ms) if ms else None,
                   "mean_ms": statistics.fmean(ms) if ms else None}
            self.emit(rec)
            log(f"{sysobj.name} {variant.name} rep{rep} latency: p50 {rec['p50_ms']:.2f} ms, "
                f"p99 {rec['p99_ms']:.2f} ms, max {rec['max_ms'] or -1:.2f} ms ({len(ms)}/{a.lat_count})")
        finally:
            wg.stop()

    def run(self):
        a = self.args
        dbsize = self.r.dbsize()
        if os.environ.get("BENCH_ALLOW_FLUSH") != "1":
            raise SystemExit("refusing to run: this harness FLUSHDBs the Redis db in REDIS_URL."
                             " Point it at a throwaway Redis and set BENCH_ALLOW_FLUSH=1.")
        log(f"REDIS_URL={self.redis_url} dbsize={dbsize} N={a.n} concurrency={a.concurrency} reps={a.reps}")
        for sname in a.systems.split(","):
            sysobj = SYSTEMS[sname](self.r, self.redis_url)
            self.emit({"phase": "versions", "system": sname, "versions": sysobj.versions()})
            try:
                if not a.skip_enqueue:
                    self.phase_enqueue(sysobj, a.n)
                variants = sysobj.variants(a)
                if a.variants:
                    wanted = set(a.variants.split(","))
                    variants = [v for v in variants if f"{sname}:{v.name}" in wanted or v.name in wanted]
                for v in variants:
                    reps = a.reps if v.n is None else a.reps_slow
                    for rep in range(reps):
                        self.phase_drain_latency(sysobj, v, rep, v.n or self.drain_n)
            except NotImplementedError as e:  # e.g. the ciq placeholder
                log(f"SKIPPED {sname}: {e}")
                self.emit({"phase": "skipped", "system": sname, "ok": False, "error": str(e)})
        self.flush_db()


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)
    p = sub.add_parser("run")
    p.add_argument("--systems", default="celery,rq")
    p.add_argument("--variants", default="", help="comma list, e.g. 'celery:prefork/reliable,rq:SimpleWorker'")
    p.add_argument("--n", type=int, default=20000)
    p.add_argument("--drain-n", type=int, default=0,
                   help="N for the drain runs (0 = use --n)")
    p.add_argument("--rq-fork-n", type=int, default=600,
                   help="N for the RQ fork-per-job Worker (0 = use the drain N)")
    p.add_argument("--concurrency", type=int, default=2)
    p.add_argument("--reps", type=int, default=3)
    p.add_argument("--reps-enqueue-alt", type=int, default=3,
                   help="reps for secondary enqueue APIs (Celery send_task)")
    p.add_argument("--reps-slow", type=int, default=3, help="reps for variants with their own N")
    p.add_argument("--lat-count", type=int, default=200)
    p.add_argument("--lat-gap-ms", type=float, default=20.0)
    p.add_argument("--lat-idle-s", type=float, default=0.5)
    p.add_argument("--worker-timeout", type=int, default=240,
                   help="hard `timeout` for each worker process, seconds")
    p.add_argument("--skip-enqueue", action="store_true")
    p.add_argument("--out", default=os.path.join(HERE, "raw", "results.jsonl"))
    p.add_argument("--log-dir", default=os.path.join(HERE, "raw", "logs"))
    args = ap.parse_args()
    if args.cmd == "run":
        Bench(args).run()


if __name__ == "__main__":
    main()
