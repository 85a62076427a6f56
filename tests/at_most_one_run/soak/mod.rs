//! The fault soak: unique `exec` tasks on the three queues over several workers while
//! random faults hit them — a partition (a holding proxy), SIGSTOP past the lease,
//! `kill -9`, a worker whose clock runs 3 % slow (libfaketime), a Redis restart with
//! AOF. Each run takes a per-task `flock`: a run that starts while another run of its
//! task is alive cannot take it and records an overlap (a killed run's lock is released
//! by the kernel, so there are no false alarms). Prints one table.
//!
//! `sentinel` runs the same soak through Sentinel with `min_replicas = 1`, with
//! failovers among the faults.
//!
//! The suite runs short soaks; `bench/fault-soak.sh` runs a long one
//! (`CIQ_SOAK_SECS`, `CIQ_SOAK_TASKS`, `CIQ_SOAK_SENTINEL=1`).

mod sentinel;

use super::*;
use crate::harness::proxy::HoldingProxy;
use rand::Rng;
use std::collections::{HashMap, HashSet};
use std::time::Instant;

// The times come from `date` without libfaketime: the slow-clock worker's children
// inherit its clock, whose readings lag more the longer the worker has run.
const SCRIPT: &str = r#"#!/bin/sh
exec 9>"$SOAK_DIR/lock-$CIQ_TASK_ID"
if ! flock -n 9; then echo "$CIQ_TASK_ID $SOAK_WORKER $(LD_PRELOAD= date +%s%3N)" >> "$SOAK_DIR/overlaps"; fi
echo "start $CIQ_TASK_ID $SOAK_WORKER $(LD_PRELOAD= date +%s%3N)" >> "$SOAK_DIR/runs"
sleep "$1"
echo "end $CIQ_TASK_ID $SOAK_WORKER $(LD_PRELOAD= date +%s%3N)" >> "$SOAK_DIR/runs"
"#;

pub(crate) struct Worker {
    name: String,
    /// Its way to Redis, which a partition holds; None under Sentinel, where a worker
    /// goes straight to whichever master the sentinels name.
    proxy: Option<HoldingProxy>,
    slow_clock: bool,
    proc: Option<Proc>,
}

/// The soak's four workers (the last with a slow clock), each through a holding proxy
/// to `upstream` when given.
fn workers(upstream: Option<u16>) -> Vec<Worker> {
    (0..4)
        .map(|i| Worker {
            name: format!("w{i}"),
            proxy: upstream.map(HoldingProxy::start),
            slow_clock: i == 3,
            proc: None,
        })
        .collect()
}

fn libfaketime() -> String {
    [
        "/usr/lib/x86_64-linux-gnu",
        "/usr/lib/aarch64-linux-gnu",
        "/usr/lib",
    ]
    .iter()
    .map(|d| format!("{d}/faketime/libfaketime.so.1"))
    .find(|p| std::path::Path::new(p).exists())
    .expect("libfaketime is missing: install faketime (./install.sh --test-deps does)")
}

fn spawn(ciq: &Ciq, w: &Worker) -> Proc {
    let log = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(ciq.dir().join(format!("{}.log", w.name)))
        .unwrap();
    let mut c = ciq.cmd(&["work", "--name", &w.name, "--concurrency", "4"]);
    if let Some(p) = &w.proxy {
        c.env("CIQ_BROKER", p.url());
    }
    c.env("CIQ_LEASE", "2s")
        .env("CIQ_HEARTBEAT", "500ms")
        .env("CIQ_SWEEP", "500ms")
        .env("CIQ_UPKEEP_LEASE", "1s")
        .env("CIQ_SHUTDOWN_TIMEOUT", "5s")
        .env("SOAK_WORKER", &w.name)
        .env("SOAK_DIR", ciq.dir())
        .stdout(std::process::Stdio::null())
        .stderr(log);
    if w.slow_clock {
        // The worker's clocks (monotonic included) run 3 % slow: the direction in
        // which a worker could fence too late.
        c.env("LD_PRELOAD", libfaketime())
            .env("FAKETIME", "+0 x0.97");
    }
    c.spawn().map(Proc).expect("spawn worker")
}

/// The soak's config: the three queues and the recording task, then `extra`.
fn soak_config(ciq: &Ciq, extra: &str) {
    std::fs::write(ciq.dir().join("soak.sh"), SCRIPT).unwrap();
    ciq.config(&format!(
        "[queues]\ntest_execution = 6\ndefault = 3\nmaintenance = 1\n\n[worker]\nmax_deliveries = 1000\n\n\
         [tasks.rec]\nmax_retries = 1000\nbackoff = \"100ms\"\nbackoff_max = \"1s\"\nrunner = {{ exec = [\"sh\", \"{}\", \"{{s}}\"] }}\n{extra}",
        ciq.dir().join("soak.sh").display()
    ));
}

/// Enqueues soak task `i` (unique, on one of the three queues, 0.5 to 3 s long); its
/// id once acknowledged, or why not.
fn try_enqueue(ciq: &Ciq, i: usize) -> Result<String, String> {
    let s = format!("s={:.1}", rand::thread_rng().gen_range(0.5..3.0));
    let u = format!("soak:{i}");
    let o = ciq.run(&[
        "enqueue",
        "rec",
        "--queue",
        QUEUES[i % 3],
        "--arg",
        &s,
        "--unique",
        &u,
    ]);
    if o.status.success() {
        Ok(String::from_utf8_lossy(&o.stdout).trim().to_string())
    } else {
        Err(String::from_utf8_lossy(&o.stderr).to_string())
    }
}

/// A fault: when (ms since the epoch), whom (a worker's name, or `redis`), what, and
/// until when it lasted for the runs (a failover: until the new master had a replica in
/// sync, so acknowledged writes were possible again; else when the fault was over: the
/// partition lifted, the stopped worker continued, the killed one restarted).
pub(crate) type Fault = (u64, String, &'static str, u64);

/// Faults on Redis itself, which every worker feels.
fn hits_every_worker(kind: &str) -> bool {
    kind == "redis restart" || is_failover(kind)
}

fn is_failover(kind: &str) -> bool {
    kind == "failover" || kind == "master kill -9"
}

/// Hits one worker: a partition (its proxy holds every byte), SIGSTOP past the lease,
/// or `kill -9` and a restart.
fn worker_fault(ciq: &Ciq, w: &mut Worker, kind: &str) {
    let mut rng = rand::thread_rng();
    match kind {
        "partition" => {
            let p = w
                .proxy
                .as_ref()
                .expect("a partition needs the worker's proxy");
            p.hold();
            std::thread::sleep(Duration::from_millis(rng.gen_range(2500..4000)));
            p.release();
        }
        "sigstop" => {
            let pid = w.proc.as_ref().unwrap().id() as i32;
            unsafe { libc::kill(pid, libc::SIGSTOP) };
            std::thread::sleep(Duration::from_millis(rng.gen_range(2500..4000)));
            unsafe { libc::kill(pid, libc::SIGCONT) };
        }
        "kill -9" => {
            if let Some(mut p) = w.proc.take() {
                sigkill(&mut p);
            }
            std::thread::sleep(Duration::from_millis(500));
            w.proc = Some(spawn(ciq, w));
        }
        k => panic!("not a worker fault: {k}"),
    }
}

/// Tasks not yet at the end of their road, read with `int` (a nil reply is 0; None:
/// Redis did not answer, so not drained).
fn left(int: &dyn Fn(&[&str]) -> Option<i64>) -> Option<i64> {
    let mut n = 0;
    for q in QUEUES {
        for c in [
            "LLEN pending",
            "HLEN active",
            "ZCARD retry",
            "ZCARD scheduled",
        ] {
            let (cmd, k) = c.split_once(' ').unwrap();
            n += int(&[cmd, &format!("ciq:{{{q}}}:{k}")])?;
        }
    }
    Some(n)
}

/// Waits for the queues to drain, then stops the workers.
fn drain_and_stop(int: &dyn Fn(&[&str]) -> Option<i64>, workers: &mut [Worker]) {
    wait_until(Duration::from_secs(120), || left(int) == Some(0));
    for w in workers.iter_mut() {
        if let Some(p) = w.proc.as_mut() {
            p.stop(Duration::from_secs(15));
        }
    }
}

/// What the soak saw.
#[derive(Debug, Default)]
pub(crate) struct Soak {
    /// What ran where (the table's tasks line).
    pub setup: String,
    pub tasks: usize,
    pub runs: usize,
    pub duplicates: usize,
    pub overlaps: usize,
    pub lost: usize,
    pub acked_lost: usize,
    pub completed_redone: usize,
    pub live_lost: usize,
    pub faults: BTreeMap<&'static str, usize>,
    pub recovery_ms: Vec<u64>,
    /// Recovery of the runs a failover interrupted, per kind of failover (Sentinel soak).
    pub failover_recovery_ms: BTreeMap<&'static str, Vec<u64>>,
}

/// Reads the runs and Redis's ended tasks and judges them against the faults. `ended`:
/// every task id that reached the end of its road (done, or dead with a reason).
fn analyse(
    ciq: &Ciq,
    ids: &[String],
    ended: &HashSet<String>,
    faults: &[Fault],
    workers: &[Worker],
) -> Soak {
    let runs = runs_with_worker(&ciq.dir().join("runs"));
    let mut by_task: HashMap<&str, Vec<&SoakRun>> = HashMap::new();
    for r in &runs {
        by_task.entry(r.0.as_str()).or_default().push(r);
    }
    let started: HashSet<&str> = by_task.keys().copied().collect();
    let mut s = Soak {
        tasks: ids.len(),
        runs: runs.len(),
        duplicates: by_task.values().map(|r| r.len() - 1).sum(),
        ..Soak::default()
    };
    for f in faults {
        *s.faults.entry(f.2).or_default() += 1;
    }
    for rs in by_task.values() {
        for pair in rs.windows(2) {
            let (a, b) = (pair[0], pair[1]);
            // The fault that hit run a's worker (or Redis) last before b started, while
            // a was under way.
            let fault = faults
                .iter()
                .rev()
                .find(|f| f.0 <= b.2 && f.3 >= a.2 && (f.1 == a.1 || hits_every_worker(f.2)));
            match (a.3, fault) {
                // Finished, but its worker was cut off, stopped or killed (or Redis
                // failed over) before the outcome was safe in Redis: the task ran again,
                // as designed.
                (Some(_), Some(_)) => s.completed_redone += 1,
                // Finished by a worker nothing happened to, and still run again.
                (Some(_), None) => {
                    s.live_lost += 1;
                    eprintln!("finished run redone with no fault on its worker: {a:?} then {b:?}; faults {faults:?}");
                    for w in workers {
                        for line in ciq.log(&w.name).lines().filter(|x| x.contains(&a.0)) {
                            eprintln!("{}: {line}", w.name);
                        }
                    }
                }
                (None, Some(f)) => {
                    s.recovery_ms.push(b.2 - f.0);
                    if is_failover(f.2) {
                        let v = s.failover_recovery_ms.entry(f.2).or_default();
                        v.push(b.2 - f.0);
                    }
                }
                (None, None) => {}
            }
        }
    }
    s.recovery_ms.sort_unstable();
    for v in s.failover_recovery_ms.values_mut() {
        v.sort_unstable();
    }
    let overlap_lines = std::fs::read_to_string(ciq.dir().join("overlaps")).unwrap_or_default();
    s.overlaps = overlap_lines.lines().count();
    // What led to each overlap: the task's runs and the faults around them.
    for l in overlap_lines.lines() {
        let id = l.split_whitespace().next().unwrap_or("");
        let rs: Vec<_> = runs.iter().filter(|r| r.0 == id).collect();
        let from = rs.first().map_or(0, |r| r.2.saturating_sub(5000));
        let near: Vec<_> = faults.iter().filter(|f| f.0 >= from).take(4).collect();
        eprintln!("overlap {l}: runs {rs:?}; faults {near:?}");
        let hist = ciq.run(&["inspect", "task", id]);
        eprintln!("{}", String::from_utf8_lossy(&hist.stdout));
        for w in workers {
            let log = ciq.log(&w.name);
            for line in log.lines().filter(|x| x.contains(id)) {
                eprintln!("{}: {line}", w.name);
            }
        }
    }
    s.lost = ids.iter().filter(|i| !ended.contains(*i)).count();
    s.acked_lost = ids
        .iter()
        .filter(|i| !started.contains(i.as_str()) && !ended.contains(*i))
        .count();
    s
}

/// Every id in the three queues' `history:ends` ("<end ms>|<id>"), read with `cli`.
fn ended(cli: &dyn Fn(&[&str]) -> String) -> HashSet<String> {
    QUEUES
        .iter()
        .flat_map(|q| {
            cli(&["LRANGE", &keys::q(q).history_ends, "0", "-1"])
                .lines()
                .filter_map(|e| Some(e.split_once('|')?.1.to_string()))
                .collect::<Vec<_>>()
        })
        .collect()
}

pub(crate) fn soak(secs: u64, tasks: usize) -> Soak {
    let mut redis = Redis::start_aof();
    let ciq = Ciq::new(&redis);
    soak_config(&ciq, "");
    let mut workers = workers(Some(redis.port));
    for w in workers.iter_mut() {
        w.proc = Some(spawn(&ciq, w));
    }
    let mut ids = vec![];
    for i in 0..tasks {
        ids.push(try_enqueue(&ciq, i).unwrap_or_else(|e| panic!("enqueue {i}: {e}")));
    }
    // Faults: (time, worker, kind); a Redis restart hits every worker.
    let mut faults: Vec<Fault> = vec![];
    let mut rng = rand::thread_rng();
    let t0 = Instant::now();
    while t0.elapsed() < Duration::from_secs(secs) {
        std::thread::sleep(Duration::from_millis(rng.gen_range(1500..3000)));
        let wi = rng.gen_range(0..workers.len());
        let kind = ["partition", "sigstop", "kill -9", "redis restart"][rng.gen_range(0..4)];
        let t = now_ms();
        if kind == "redis restart" {
            faults.push((t, "redis".into(), kind, t));
            redis.restart();
        } else {
            faults.push((t, workers[wi].name.clone(), kind, t));
            worker_fault(&ciq, &mut workers[wi], kind);
        }
        // The fault lasted until now: a run its worker had claimed and started just
        // after it began (a partition, a stop) was under way during it too.
        if let Some(f) = faults.last_mut() {
            f.3 = now_ms();
        }
    }
    let int = |a: &[&str]| redis.try_cli(a).ok().map(|o| o.trim().parse().unwrap_or(0));
    drain_and_stop(&int, &mut workers);
    let ended = ended(&|a| redis.cli(a));
    let mut s = analyse(&ciq, &ids, &ended, &faults, &workers);
    s.setup = "unique, 3 queues, 4 workers x c4, one with a 3 % slow clock".into();
    s
}

/// A run: (task id, worker, start ms, end ms).
type SoakRun = (String, String, u64, Option<u64>);

/// Every run, in start order.
fn runs_with_worker(file: &std::path::Path) -> Vec<SoakRun> {
    let mut out: Vec<SoakRun> = vec![];
    for l in std::fs::read_to_string(file).unwrap_or_default().lines() {
        let w: Vec<&str> = l.split_whitespace().collect();
        if w.len() != 4 {
            continue;
        }
        let at = w[3].parse().unwrap_or(0);
        match w[0] {
            "start" => out.push((w[1].into(), w[2].into(), at, None)),
            "end" => {
                if let Some(r) = out
                    .iter_mut()
                    .rev()
                    .find(|r| r.0 == w[1] && r.1 == w[2] && r.3.is_none())
                {
                    r.3 = Some(at);
                }
            }
            _ => {}
        }
    }
    out.sort_by_key(|r| r.2);
    out
}

/// The `p` quantile of sorted milliseconds, in seconds ("-" when there are none).
fn pct(ms: &[u64], p: f64) -> String {
    if ms.is_empty() {
        return "-".into();
    }
    let i = ((ms.len() as f64 - 1.0) * p).round() as usize;
    format!("{:.1} s", ms[i] as f64 / 1000.0)
}

impl Soak {
    pub(crate) fn table(&self) -> String {
        let faults: Vec<String> = self
            .faults
            .iter()
            .map(|(k, v)| format!("{k} {v}"))
            .collect();
        let r = &self.recovery_ms;
        let failover: String = ["failover", "master kill -9"]
            .iter()
            .filter(|k| self.faults.contains_key(*k))
            .map(|k| {
                let f = self
                    .failover_recovery_ms
                    .get(k)
                    .cloned()
                    .unwrap_or_default();
                let what = if *k == "failover" {
                    "SENTINEL FAILOVER"
                } else {
                    "kill -9 of the master"
                };
                format!(
                    "| recovery after {what}, p50 / p99 (n={}) | {} / {} |\n",
                    f.len(),
                    pct(&f, 0.5),
                    pct(&f, 0.99)
                )
            })
            .collect();
        format!(
            "| fault soak | |\n|---|---:|\n\
             | tasks ({}) | {} |\n\
             | faults | {} |\n\
             | runs | {} |\n\
             | overlapping runs (must be 0) | {} |\n\
             | lost tasks (must be 0) | {} |\n\
             | acknowledged enqueues lost (must be 0) | {} |\n\
             | outcomes of live workers lost (must be 0) | {} |\n\
             | finished runs redone (their worker was cut off, stopped or killed before the outcome reached Redis) | {} |\n\
             | duplicate runs (interrupted, run again) | {} |\n\
             | recovery after a fault, p50 / p99 (n={}) | {} / {} |\n{failover}",
            self.setup,
            self.tasks,
            faults.join(", "),
            self.runs,
            self.overlaps,
            self.lost,
            self.acked_lost,
            self.live_lost,
            self.completed_redone,
            self.duplicates,
            r.len(),
            pct(r, 0.5),
            pct(r, 0.99),
        )
    }

    /// The soak's promises; panics with the table when one is broken.
    pub(crate) fn assert_held(&self) {
        eprintln!("{}", self.table());
        assert_eq!(self.overlaps, 0, "{}", self.table());
        assert_eq!(self.lost, 0, "{}", self.table());
        assert_eq!(self.acked_lost, 0, "{}", self.table());
        assert_eq!(self.live_lost, 0, "{}", self.table());
    }
}

/// `CIQ_SOAK_SECS` and `CIQ_SOAK_TASKS`, or the suite's defaults.
fn knobs(secs: u64, tasks: usize) -> (u64, usize) {
    let var = |k: &str| std::env::var(k).ok().and_then(|v| v.parse().ok());
    (
        var("CIQ_SOAK_SECS").unwrap_or(secs),
        var("CIQ_SOAK_TASKS").map_or(tasks, |t: u64| t as usize),
    )
}

/// The short soak of the suite: 40 s of faults over 400 tasks. Never two runs of a task
/// at once, nothing lost.
#[test]
fn fault_soak_never_two_runs_at_once_and_nothing_lost() {
    let (secs, tasks) = knobs(40, 400);
    soak(secs, tasks).assert_held();
}
