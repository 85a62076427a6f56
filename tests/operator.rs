//! Operator views (issue 6): `depth --check` monitoring codes, `status`, metrics.

use crate::harness::*;
use std::time::Duration;

#[test]
fn depth_check_returns_each_monitoring_code() {
    let redis = Redis::start();
    let ciq = Ciq::new(&redis);
    let code = |args: &[&str]| {
        let o = ciq.run(args);
        let line = String::from_utf8_lossy(&o.stdout).to_string();
        assert_eq!(line.lines().count(), 1, "one line: {line}");
        (o.status.code(), line)
    };
    let (c, l) = code(&["depth", "--check", "--warn", "2", "--crit", "4"]);
    assert_eq!(c, Some(0), "{l}");
    assert!(l.starts_with("CIQ OK - 0 pending"), "{l}");
    ciq.ok(&["enqueue", "noop", "--count", "2"]);
    let (c, l) = code(&["depth", "--check", "--warn", "2", "--crit", "4"]);
    assert_eq!(c, Some(1), "{l}");
    assert!(l.starts_with("CIQ WARNING - default has 2 pending"), "{l}");
    ciq.ok(&["enqueue", "noop", "--count", "2"]);
    let (c, l) = code(&["depth", "--check", "--warn", "2", "--crit", "4"]);
    assert_eq!(c, Some(2), "{l}");
    std::thread::sleep(Duration::from_millis(1100));
    let (c, l) = code(&["depth", "--check", "--warn", "100", "--max-age", "1s"]);
    assert_eq!(c, Some(2), "old pending is critical: {l}");
    let (c, l) = code(&[
        "--broker",
        "redis://127.0.0.1:1/0",
        "depth",
        "--check",
        "--warn",
        "1",
    ]);
    assert_eq!(c, Some(3), "{l}");
    assert!(l.starts_with("CIQ UNKNOWN - cannot reach Redis"), "{l}");
}

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
    sigterm(&w);
    wait_exit(&mut w, Duration::from_secs(10));
    let o = ciq.run(&["--broker", "redis://127.0.0.1:1/0", "status"]);
    assert_eq!(o.status.code(), Some(3));
    assert!(String::from_utf8_lossy(&o.stdout).contains("Redis is unreachable"));
}

#[test]
fn metrics_endpoint_serves_prometheus_text() {
    use std::io::{Read, Write};
    let redis = Redis::start();
    let ciq = Ciq::new(&redis);
    let port = free_port();
    let addr = format!("127.0.0.1:{port}");
    let mut w = ciq.spawn_worker("w", &["--metrics-addr", &addr]);
    ciq.ok(&[
        "enqueue",
        "noop",
        "--count",
        "3",
        "--arg",
        "incr=ciq:bench:done",
    ]);
    ciq.ok(&["enqueue", "noop", "--arg", "fail=fail"]);
    assert!(wait_until(Duration::from_secs(10), || redis
        .int(&["GET", "ciq:bench:done"])
        == 3));
    let mut body = String::new();
    assert!(wait_until(Duration::from_secs(5), || {
        body.clear();
        let Ok(mut s) = std::net::TcpStream::connect(&addr) else {
            return false;
        };
        let _ = s.write_all(b"GET /metrics HTTP/1.0\r\n\r\n");
        let _ = s.read_to_string(&mut body);
        body.contains("outcome=\"failed\"")
    }));
    assert!(
        body.contains("ciq_tasks_total{task=\"noop\",queue=\"default\",outcome=\"done\"} 3"),
        "{body}"
    );
    assert!(
        body.contains("ciq_task_runtime_seconds_count{task=\"noop\",queue=\"default\"} 4"),
        "{body}"
    );
    assert!(
        body.contains("ciq_queue_depth{queue=\"default\",state=\"dead\"} 1"),
        "{body}"
    );
    assert!(body.contains("ciq_tasks_in_flight 0"), "{body}");
    sigterm(&w);
    wait_exit(&mut w, Duration::from_secs(10));
}

#[test]
fn config_show_names_each_source() {
    let redis = Redis::start();
    let ciq = Ciq::new(&redis);
    ciq.config("[worker]\nlease = \"7s\"\n[rollout]\nflag = \"USE_QUEUE\"\n");
    let out = ciq.ok(&["config", "show"]);
    let row = |key: &str| {
        out.lines()
            .find(|l| l.contains(&format!(" {key} ")))
            .unwrap_or_else(|| panic!("{key} missing:\n{out}"))
            .to_string()
    };
    assert!(row("broker.url").contains("env"), "{}", row("broker.url"));
    assert!(row("worker.lease").contains("7s") && row("worker.lease").contains("file"));
    assert!(row("worker.sweep").contains("default"));
    assert!(row("rollout.flag").contains("USE_QUEUE") && row("rollout.flag").contains("file"));
    assert!(row("rollout.units").contains("default"));
    assert!(row("platform.max_runtime").contains("default"));
    assert!(row("beat.lease").contains("default"));
    let o = ciq
        .cmd(&["config", "show"])
        .env("CIQ_BROKER", "redis://u:s3cret@127.0.0.1:1/0")
        .output()
        .unwrap();
    assert!(
        !String::from_utf8_lossy(&o.stdout).contains("s3cret"),
        "passwords are masked"
    );
}
