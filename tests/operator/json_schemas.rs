//! The `--json` output of the read commands is a contract: each is read here into types
//! defined by the test, so a renamed or retyped field fails.

use crate::harness::*;
use serde::Deserialize;
use std::time::Duration;

#[derive(Debug, Deserialize)]
#[allow(dead_code)]
struct Depth {
    queue: String,
    pending: u64,
    active: u64,
    scheduled: u64,
    retry: u64,
    dead: u64,
    oldest_pending_age_s: Option<f64>,
    paused: bool,
}

#[derive(Debug, Deserialize)]
#[allow(dead_code)]
struct Active {
    id: String,
    task: String,
    queue: String,
    args: serde_json::Map<String, serde_json::Value>,
    worker: String,
    started_at: String,
    runtime_s: f64,
    attempt: u32,
    lease_expires_at: String,
}

#[derive(Debug, Deserialize)]
#[allow(dead_code)]
struct Dead {
    id: String,
    task: String,
    queue: String,
    args: serde_json::Map<String, serde_json::Value>,
    died_at: String,
    attempt: u32,
    reason: String,
    last_error: String,
}

#[derive(Debug, Deserialize)]
#[allow(dead_code)]
struct Enqueued {
    id: String,
    task: String,
    queue: String,
    duplicate: bool,
    unique_key: Option<String>,
    eta_ms: Option<u64>,
}

#[derive(Debug, Deserialize)]
#[allow(dead_code)]
struct Requeued {
    requeued: u64,
    skipped_unique_held: u64,
    not_found: Vec<String>,
}

#[derive(Debug, Deserialize)]
#[allow(dead_code)]
struct Sourced {
    value: serde_json::Value,
    source: Option<String>,
}

type Section = std::collections::BTreeMap<String, Sourced>;

#[derive(Debug, Deserialize)]
#[allow(dead_code)]
struct ConfigShow {
    file: Sourced,
    database: Sourced,
    broker: Section,
    queues: Section,
    worker: Section,
    tasks: Section,
    schedule: Section,
    beat: Section,
    platform: Section,
    rollout: Section,
}

fn parse<T: serde::de::DeserializeOwned>(ciq: &Ciq, args: &[&str]) -> T {
    let out = ciq.ok(args);
    serde_json::from_str(&out).unwrap_or_else(|e| panic!("{args:?}: {e}\n{out}"))
}

#[test]
fn read_commands_json_has_a_stable_schema() {
    let redis = Redis::start();
    let ciq = Ciq::new(&redis);
    let e: Enqueued = parse(
        &ciq,
        &[
            "enqueue",
            "noop",
            "--json",
            "--unique",
            "u1",
            "--countdown",
            "1h",
        ],
    );
    assert!(!e.duplicate && e.eta_ms.is_some() && e.unique_key.as_deref() == Some("u1"));
    let e2: Enqueued = parse(&ciq, &["enqueue", "noop", "--json", "--unique", "u1"]);
    assert!(e2.duplicate && e2.id == e.id);

    let d: Vec<Depth> = parse(&ciq, &["depth", "--json"]);
    assert!(d.iter().any(|q| q.queue == "default" && q.scheduled == 1));

    ciq.ok(&["enqueue", "noop", "--args-json", r#"{"sleep_ms": 3000}"#]);
    ciq.ok(&["enqueue", "noop", "--arg", "fail=fail"]);
    let mut w = ciq.spawn_worker("w", &[]);
    assert!(wait_until(Duration::from_secs(5), || {
        let a: Vec<Active> = parse(&ciq, &["inspect", "active", "--json"]);
        let dead: Vec<Dead> = parse(&ciq, &["inspect", "dead", "--json"]);
        a.len() == 1 && dead.len() == 1
    }));
    let a: Vec<Active> = parse(&ciq, &["inspect", "active", "--json"]);
    assert_eq!((a[0].task.as_str(), a[0].attempt), ("noop", 1));
    let dead: Vec<Dead> = parse(&ciq, &["inspect", "dead", "--json"]);
    assert_eq!(dead[0].reason, "failed permanently");
    let r: Requeued = parse(&ciq, &["requeue", "--json", &dead[0].id]);
    assert_eq!(r.requeued, 1);
    sigkill(&mut w);

    let c: ConfigShow = parse(&ciq, &["config", "show", "--json"]);
    assert_eq!(c.broker["url"].source.as_deref(), Some("env"));
    assert_eq!(c.database.source.as_deref(), Some("default"));
    assert!(c.tasks.contains_key("start_test"));
    assert_eq!(c.platform["max_runtime"].value, "2h");
}
