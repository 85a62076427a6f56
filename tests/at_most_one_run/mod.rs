//! At most one run of a task at any moment, whatever the fault (issue 18): runs are
//! named by queue and claim token together (tokens are counted per queue), a worker
//! that cannot renew a run's lease stops the run before Redis can consider the lease
//! expired, and a cut-off worker's tasks run elsewhere within lease + sweep + heartbeat.
//! Everything runs through the `exec` runner production uses, with the sample config's
//! three queues served by one worker.

mod failover;
mod partition;
mod soak;

use crate::harness::*;
use std::collections::BTreeMap;
use std::time::Duration;

/// The sample config's three queues.
pub(crate) const QUEUES: [&str; 3] = ["test_execution", "default", "maintenance"];

/// A run as the recording script saw it: task id, pid, start and end (ms since the epoch).
#[derive(Debug, Clone)]
pub(crate) struct Run {
    pub id: String,
    pub pid: i32,
    pub start: u64,
    pub end: Option<u64>,
}

/// Writes the recording `exec` task `rec` (arg `s`: seconds to sleep) and the three queues.
pub(crate) fn config(ciq: &Ciq, extra: &str) -> std::path::PathBuf {
    let runs = ciq.dir().join("runs");
    let script = ciq.dir().join("rec.sh");
    std::fs::write(
        &script,
        format!(
            "F={runs}\necho \"start $CIQ_TASK_ID $$ $(date +%s%3N)\" >> \"$F\"\nsleep \"$1\"\n\
             echo \"end $CIQ_TASK_ID $$ $(date +%s%3N)\" >> \"$F\"\n",
            runs = runs.display()
        ),
    )
    .unwrap();
    ciq.config(&format!(
        "[queues]\ntest_execution = 6\ndefault = 3\nmaintenance = 1\n\n\
         [tasks.rec]\nmax_retries = 3\nrunner = {{ exec = [\"sh\", \"{}\", \"{{s}}\"] }}\n{extra}",
        script.display()
    ));
    runs
}

/// Every run recorded so far, in start order.
pub(crate) fn runs(file: &std::path::Path) -> Vec<Run> {
    let text = std::fs::read_to_string(file).unwrap_or_default();
    let mut out: Vec<Run> = vec![];
    for l in text.lines() {
        let w: Vec<&str> = l.split_whitespace().collect();
        if w.len() != 4 {
            continue;
        }
        let (pid, at) = (w[2].parse().unwrap_or(0), w[3].parse().unwrap_or(0));
        match w[0] {
            "start" => out.push(Run {
                id: w[1].into(),
                pid,
                start: at,
                end: None,
            }),
            "end" => {
                if let Some(r) = out.iter_mut().find(|r| r.pid == pid && r.id == w[1]) {
                    r.end = Some(at);
                }
            }
            _ => {}
        }
    }
    out
}

pub(crate) fn starts_per_task(file: &std::path::Path) -> BTreeMap<String, usize> {
    let mut m = BTreeMap::new();
    for r in runs(file) {
        *m.entry(r.id).or_default() += 1;
    }
    m
}

pub(crate) fn stat_sum(redis: &Redis, field: &str) -> i64 {
    QUEUES
        .iter()
        .map(|q| {
            redis
                .cli(&["HGET", &keys::q(q).stats, field])
                .trim()
                .parse::<i64>()
                .unwrap_or(0)
        })
        .sum()
}

pub(crate) fn enqueue(ciq: &Ciq, queue: &str, secs: &str, unique: Option<&str>) -> String {
    let mut a = vec!["enqueue", "rec", "--queue", queue, "--arg"];
    let s = format!("s={secs}");
    a.push(&s);
    if let Some(u) = unique {
        a.extend(["--unique", u]);
    }
    ciq.ok(&a).trim().to_string()
}

/// The reproduction, at every concurrency: one worker serving the three queues,
/// tasks in each queue so that their claim tokens (counted per queue) collide, the long
/// ones outliving several heartbeats. Each task runs exactly once, nothing is recovered,
/// no outcome is refused or dropped.
#[test]
fn one_worker_serving_three_queues_runs_each_task_once_at_every_concurrency() {
    for concurrency in ["1", "2", "4", "8"] {
        let redis = Redis::start();
        let ciq = Ciq::new(&redis);
        let file = config(&ciq, "");
        let mut ids = vec![];
        // Long tasks first in two queues (tokens 1, 2 in each), short ones after.
        for q in ["default", "maintenance"] {
            ids.push(enqueue(&ciq, q, "2.5", None));
        }
        for q in QUEUES {
            for _ in 0..3 {
                ids.push(enqueue(&ciq, q, "0.2", None));
            }
        }
        let mut w = ciq.spawn_worker("a", &["--concurrency", concurrency]);
        let n = ids.len() as i64;
        assert!(
            wait_until(Duration::from_secs(60), || stat_sum(&redis, "done") == n),
            "c{concurrency}: all {n} tasks done; log: {}",
            ciq.log("a")
        );
        assert!(w.stop(Duration::from_secs(10)).is_some_and(|s| s.success()));
        let starts = starts_per_task(&file);
        for id in &ids {
            assert_eq!(
                starts.get(id),
                Some(&1),
                "c{concurrency}: {id} ran once: {starts:?}"
            );
        }
        assert_eq!(
            stat_sum(&redis, "recovered"),
            0,
            "c{concurrency}: no lease expired"
        );
        let log = ciq.log("a");
        for bad in [
            "lease lost",
            "outcome refused",
            "lease_expired",
            "stopped by its worker",
        ] {
            assert!(
                !log.contains(bad),
                "c{concurrency}: {bad:?} in the log: {log}"
            );
        }
    }
}

/// `ciq cancel --terminate` on a running `exec` task: the worker's next renewal finds the
/// run superseded and kills its process group at once; the run never reaches its end and
/// the task stays canceled.
#[test]
fn cancel_terminate_stops_a_running_exec_tasks_process_group() {
    let redis = Redis::start();
    let ciq = Ciq::new(&redis);
    let file = config(&ciq, "");
    let id = enqueue(&ciq, "test_execution", "30", Some("start_test:5"));
    let _w = ciq.spawn_worker("a", &["--concurrency", "2"]);
    assert!(
        wait_until(Duration::from_secs(10), || !runs(&file).is_empty()),
        "the run starts; log: {}",
        ciq.log("a")
    );
    let pid = runs(&file)[0].pid;
    let t0 = std::time::Instant::now();
    ciq.ok(&["cancel", &id, "--terminate"]);
    assert!(
        wait_until(Duration::from_secs(3), || !crate::fencing::process_alive(
            pid
        )),
        "the run's process is gone within a heartbeat or two; log: {}",
        ciq.log("a")
    );
    eprintln!(
        "cancel --terminate: run gone {} ms after the cancel",
        t0.elapsed().as_millis()
    );
    std::thread::sleep(Duration::from_millis(500));
    assert!(
        runs(&file)[0].end.is_none(),
        "the run never finished its work"
    );
    assert_eq!(
        starts_per_task(&file).get(&id),
        Some(&1),
        "and did not run again"
    );
    let t = ciq.ok(&["inspect", "task", &id]);
    assert!(t.contains("CANCELED"), "{t}");
}
