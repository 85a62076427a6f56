//! The fault soak: unique `exec` tasks on the three queues over several workers while
//! random faults hit them — a partition (a holding proxy), SIGSTOP past the lease,
//! `kill -9`, a worker whose clock runs 3 % slow (libfaketime), a Redis restart with
//! AOF. Each run takes a per-task `flock`: a run that starts while another run of its
//! task is alive cannot take it and records an overlap (a killed run's lock is released
//! by the kernel, so there are no false alarms). Prints one table.
//!
//! The suite runs a short soak; `bench/fault-soak.sh` runs a long one
//! (`CIQ_SOAK_SECS`, `CIQ_SOAK_TASKS`).

use super::*;
use crate::harness::proxy::HoldingProxy;
use rand::Rng;
use std::collections::HashMap;
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

struct Worker {
    name: String,
    proxy: HoldingProxy,
    slow_clock: bool,
    proc: Option<Proc>,
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
    c.env("CIQ_BROKER", w.proxy.url())
        .env("CIQ_LEASE", "2s")
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

/// What the soak saw.
#[derive(Debug, Default)]
pub(crate) struct Soak {
    pub tasks: usize,
    pub runs: usize,
    pub overlaps: usize,
    pub lost: usize,
    pub acked_lost: usize,
    pub completed_redone: usize,
    pub live_lost: usize,
    pub faults: BTreeMap<&'static str, usize>,
    pub recovery_ms: Vec<u64>,
}

pub(crate) fn soak(secs: u64, tasks: usize) -> Soak {
    let mut redis = Redis::start_aof();
    let ciq = Ciq::new(&redis);
    std::fs::write(ciq.dir().join("soak.sh"), SCRIPT).unwrap();
    ciq.config(&format!(
        "[queues]\ntest_execution = 6\ndefault = 3\nmaintenance = 1\n\n[worker]\nmax_deliveries = 1000\n\n\
         [tasks.rec]\nmax_retries = 1000\nbackoff = \"100ms\"\nbackoff_max = \"1s\"\nrunner = {{ exec = [\"sh\", \"{}\", \"{{s}}\"] }}\n",
        ciq.dir().join("soak.sh").display()
    ));
    let mut workers: Vec<Worker> = (0..4)
        .map(|i| Worker {
            name: format!("w{i}"),
            proxy: HoldingProxy::start(redis.port),
            slow_clock: i == 3,
            proc: None,
        })
        .collect();
    for w in workers.iter_mut() {
        w.proc = Some(spawn(&ciq, w));
    }
    let mut rng = rand::thread_rng();
    let mut ids = vec![];
    for i in 0..tasks {
        let q = QUEUES[i % 3];
        let s = format!("{:.1}", rng.gen_range(0.5..3.0));
        ids.push(enqueue(&ciq, q, &s, Some(&format!("soak:{i}"))));
    }
    // Faults: (time, worker, kind); a Redis restart hits every worker.
    let mut faults: Vec<(u64, String, &'static str)> = vec![];
    let mut counts: BTreeMap<&'static str, usize> = BTreeMap::new();
    let t0 = Instant::now();
    while t0.elapsed() < Duration::from_secs(secs) {
        std::thread::sleep(Duration::from_millis(rng.gen_range(1500..3000)));
        let wi = rng.gen_range(0..workers.len());
        let kind = ["partition", "sigstop", "kill -9", "redis restart"][rng.gen_range(0..4)];
        *counts.entry(kind).or_default() += 1;
        let w = &mut workers[wi];
        faults.push((now_ms(), w.name.clone(), kind));
        match kind {
            "partition" => {
                w.proxy.hold();
                std::thread::sleep(Duration::from_millis(rng.gen_range(2500..4000)));
                w.proxy.release();
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
                w.proc = Some(spawn(&ciq, w));
            }
            _ => {
                redis.restart();
            }
        }
    }
    let left = || -> i64 {
        QUEUES
            .iter()
            .map(|q| {
                [
                    "LLEN pending",
                    "HLEN active",
                    "ZCARD retry",
                    "ZCARD scheduled",
                ]
                .iter()
                .map(|c| {
                    let (cmd, k) = c.split_once(' ').unwrap();
                    redis.int(&[cmd, &format!("ciq:{{{q}}}:{k}")])
                })
                .sum::<i64>()
            })
            .sum()
    };
    wait_until(Duration::from_secs(120), || left() == 0);
    for w in workers.iter_mut() {
        if let Some(p) = w.proc.as_mut() {
            p.stop(Duration::from_secs(15));
        }
    }
    // Every acknowledged enqueue reached the end of its road (done, or dead with a reason).
    let ended: std::collections::HashSet<String> = QUEUES
        .iter()
        .flat_map(|q| {
            redis
                .cli(&["ZRANGE", &keys::q(q).history_ended, "0", "-1"])
                .lines()
                .map(String::from)
                .collect::<Vec<_>>()
        })
        .collect();
    let runs = runs_with_worker(&ciq.dir().join("runs"));
    let mut by_task: HashMap<&str, Vec<&SoakRun>> = HashMap::new();
    for r in &runs {
        by_task.entry(r.0.as_str()).or_default().push(r);
    }
    let started: std::collections::HashSet<&str> = by_task.keys().copied().collect();
    let mut recovery = vec![];
    let mut redone = 0;
    let mut live_lost = 0;
    for rs in by_task.values() {
        for pair in rs.windows(2) {
            let (a, b) = (pair[0], pair[1]);
            // The fault that hit run a's worker (or Redis) last before b started.
            let fault = faults
                .iter()
                .rev()
                .find(|f| f.0 <= b.2 && f.0 >= a.2 && (f.1 == a.1 || f.2 == "redis restart"));
            match (a.3, fault) {
                // Finished, but its worker was cut off, stopped or killed before the
                // outcome reached Redis: the task ran again, as designed.
                (Some(_), Some(_)) => redone += 1,
                // Finished by a worker nothing happened to, and still run again.
                (Some(_), None) => {
                    live_lost += 1;
                    eprintln!("finished run redone with no fault on its worker: {a:?} then {b:?}");
                }
                (None, Some(f)) => recovery.push(b.2 - f.0),
                (None, None) => {}
            }
        }
    }
    recovery.sort_unstable();
    let overlap_lines = std::fs::read_to_string(ciq.dir().join("overlaps")).unwrap_or_default();
    let overlaps = overlap_lines.lines().count();
    // What led to each overlap: the task's runs and the faults around them.
    for l in overlap_lines.lines() {
        let id = l.split_whitespace().next().unwrap_or("");
        let rs: Vec<_> = runs.iter().filter(|r| r.0 == id).collect();
        let from = rs.first().map_or(0, |r| r.2.saturating_sub(5000));
        let near: Vec<_> = faults.iter().filter(|f| f.0 >= from).take(4).collect();
        eprintln!("overlap {l}: runs {rs:?}; faults {near:?}");
        let hist = ciq.run(&["inspect", "task", id]);
        eprintln!("{}", String::from_utf8_lossy(&hist.stdout));
        for w in &workers {
            let log = ciq.log(&w.name);
            for line in log.lines().filter(|x| x.contains(id)) {
                eprintln!("{}: {line}", w.name);
            }
        }
    }
    Soak {
        tasks: ids.len(),
        runs: runs.len(),
        overlaps,
        lost: ids.iter().filter(|i| !ended.contains(*i)).count(),
        acked_lost: ids
            .iter()
            .filter(|i| !started.contains(i.as_str()) && !ended.contains(*i))
            .count(),
        completed_redone: redone,
        live_lost,
        faults: counts,
        recovery_ms: recovery,
    }
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

impl Soak {
    pub(crate) fn table(&self) -> String {
        let pct = |p: f64| -> String {
            if self.recovery_ms.is_empty() {
                return "-".into();
            }
            let i = ((self.recovery_ms.len() as f64 - 1.0) * p).round() as usize;
            format!("{:.1} s", self.recovery_ms[i] as f64 / 1000.0)
        };
        let faults: Vec<String> = self
            .faults
            .iter()
            .map(|(k, v)| format!("{k} {v}"))
            .collect();
        format!(
            "| fault soak | |\n|---|---:|\n\
             | tasks (unique, 3 queues, 4 workers x c4, one with a 3 % slow clock) | {} |\n\
             | faults | {} |\n\
             | runs | {} |\n\
             | overlapping runs (must be 0) | {} |\n\
             | lost tasks (must be 0) | {} |\n\
             | acknowledged enqueues lost (must be 0) | {} |\n\
             | outcomes of live workers lost (must be 0) | {} |\n\
             | finished runs redone (their worker was cut off, stopped or killed before the outcome reached Redis) | {} |\n\
             | duplicate runs (interrupted, run again) | {} |\n\
             | recovery after a fault, p50 / p99 (n={}) | {} / {} |\n",
            self.tasks,
            faults.join(", "),
            self.runs,
            self.overlaps,
            self.lost,
            self.acked_lost,
            self.live_lost,
            self.completed_redone,
            self.runs.saturating_sub(self.tasks),
            self.recovery_ms.len(),
            pct(0.5),
            pct(0.99),
        )
    }
}

/// The short soak of the suite: 40 s of faults over 400 tasks. Never two runs of a task
/// at once, nothing lost.
#[test]
fn fault_soak_never_two_runs_at_once_and_nothing_lost() {
    let secs = std::env::var("CIQ_SOAK_SECS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(40);
    let tasks = std::env::var("CIQ_SOAK_TASKS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(400);
    let s = soak(secs, tasks);
    eprintln!("{}", s.table());
    assert_eq!(s.overlaps, 0, "{}", s.table());
    assert_eq!(s.lost, 0, "{}", s.table());
    assert_eq!(s.acked_lost, 0, "{}", s.table());
    assert_eq!(s.live_lost, 0, "{}", s.table());
}
