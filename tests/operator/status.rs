//! `ciq status` (issue 6): problems first, each with its fix.

use crate::harness::*;
use std::time::Duration;

/// `status --json`, read into types of the test's own (the schema is a contract).
#[derive(serde::Deserialize, Debug)]
struct StatusJson {
    broker: BrokerJson,
    workers: Vec<WorkerJson>,
    beat: Option<serde_json::Value>,
    queues: Vec<DepthJson>,
    problems: Vec<ProblemJson>,
}
#[derive(serde::Deserialize, Debug)]
struct BrokerJson {
    reachable: bool,
    url: String,
}
#[derive(serde::Deserialize, Debug)]
struct WorkerJson {
    id: String,
    pid: u64,
    concurrency: u64,
    alive: bool,
}
#[derive(serde::Deserialize, Debug)]
struct DepthJson {
    queue: String,
    pending: u64,
    paused: bool,
}
#[derive(serde::Deserialize, Debug)]
struct ProblemJson {
    severity: String,
    message: String,
    fix: String,
}

#[test]
fn status_shows_problems_first_with_their_fix() {
    let redis = Redis::start();
    let ciq = Ciq::new(&redis);
    let s: StatusJson = serde_json::from_str(&ciq.status_json()).unwrap();
    assert!(s.broker.reachable);
    assert!(s.workers.is_empty() && s.beat.is_none());
    assert_eq!(s.problems[0].severity, "critical");
    assert!(s.problems[0].message.contains("no worker"));
    assert!(s.problems[0].fix.contains("ciq work"));
    let mut w = ciq.spawn_worker(
        "w",
        &["--concurrency", "3", "--metrics-addr", "127.0.0.1:0"],
    );
    ciq.ok(&["pause", "default"]);
    assert!(wait_until(Duration::from_secs(5), || {
        let s: StatusJson = serde_json::from_str(&ciq.status_json()).unwrap();
        s.workers
            .iter()
            .any(|w| w.alive && w.concurrency == 3 && w.id.starts_with("w@") && w.pid > 0)
    }));
    let s: StatusJson = serde_json::from_str(&ciq.status_json()).unwrap();
    assert!(
        s.problems.iter().any(|p| p.fix == "ciq resume default"),
        "{:?}",
        s.problems
    );
    assert!(s
        .queues
        .iter()
        .any(|q| q.queue == "default" && q.paused && q.pending == 0));
    assert!(s.broker.url.starts_with("redis://127.0.0.1:"));
    let text = String::from_utf8_lossy(&ciq.run(&["status"]).stdout).to_string();
    assert!(
        text.find("WARNING").unwrap() < text.find("broker").unwrap(),
        "problems first:\n{text}"
    );
    w.stop(Duration::from_secs(10));
    let o = ciq.run(&["--broker", "redis://127.0.0.1:1/0", "status"]);
    assert_eq!(o.status.code(), Some(3));
    assert!(String::from_utf8_lossy(&o.stdout).contains("Redis is unreachable"));
}
