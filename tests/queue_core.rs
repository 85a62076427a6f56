//! Queue core (issue 2): enqueue → work → done, and what happens when things break.

use crate::harness::*;
use std::collections::HashMap;
use std::time::{Duration, Instant};

fn list(redis: &Redis, key: &str) -> Vec<String> {
    redis
        .cli(&["LRANGE", key, "0", "-1"])
        .lines()
        .map(String::from)
        .filter(|l| !l.is_empty())
        .collect()
}

fn counts(ids: &[String]) -> HashMap<String, usize> {
    let mut m = HashMap::new();
    for id in ids {
        *m.entry(id.clone()).or_default() += 1;
    }
    m
}

fn depth(ciq: &Ciq, queue: &str) -> serde_json::Value {
    let out = ciq.ok(&["depth", "--json", queue]);
    let v: serde_json::Value = serde_json::from_str(&out).expect("depth --json");
    v[0].clone()
}

/// Enqueues a `noop` with these args and waits until a worker is running it; returns its id.
fn start_running(ciq: &Ciq, args_json: &str) -> String {
    let id = ciq.ok(&["enqueue", "noop", "--args-json", args_json]);
    assert!(
        wait_until(Duration::from_secs(5), || depth(ciq, "default")["active"]
            == 1),
        "the task never became active: {:?}",
        depth(ciq, "default")
    );
    id.trim().to_string()
}

#[test]
fn enqueue_work_done() {
    let redis = Redis::start();
    let ciq = Ciq::new(&redis);
    let id = ciq.ok(&["enqueue", "noop", "--arg", "incr=t:done"]);
    assert_eq!(id.trim().len(), 26, "prints a ULID: {id}");
    let mut w = ciq.spawn_worker("w1", &[]);
    assert!(wait_until(Duration::from_secs(10), || redis
        .int(&["GET", "t:done"])
        == 1));
    sigterm(&w);
    let st = wait_exit(&mut w, Duration::from_secs(10)).expect("worker stops on SIGTERM");
    assert!(st.success());
}

#[test]
fn kill_9_mid_task_runs_again_on_another_worker() {
    let redis = Redis::start();
    let ciq = Ciq::new(&redis);
    let mut a = ciq.spawn_worker("a", &["--concurrency", "1"]);
    std::thread::sleep(Duration::from_millis(300));
    let id = ciq.ok(&[
        "enqueue",
        "noop",
        "--args-json",
        r#"{"sleep_ms": 1500, "incr": "t:done", "record": "t:runs"}"#,
    ]);
    let id = id.trim().to_string();
    assert!(
        wait_until(Duration::from_secs(5), || ciq
            .ok(&["inspect", "active", "--json"])
            .contains(&id)),
        "task becomes active"
    );
    sigkill(&mut a);
    let t0 = Instant::now();
    let mut b = ciq.spawn_worker("b", &[]);
    assert!(
        wait_until(Duration::from_secs(30), || redis.int(&["GET", "t:done"])
            == 1),
        "task completes on another worker within 30 s; log: {}",
        ciq.log("b")
    );
    assert!(t0.elapsed() < Duration::from_secs(30));
    assert_eq!(
        list(&redis, "t:runs"),
        vec![id.clone()],
        "ran to completion exactly once"
    );
    let d = depth(&ciq, "default");
    assert_eq!(
        (
            d["pending"].as_u64(),
            d["active"].as_u64(),
            d["dead"].as_u64()
        ),
        (Some(0), Some(0), Some(0))
    );
    sigkill(&mut b);
}

#[test]
fn ten_thousand_tasks_survive_workers_killed_and_restarted() {
    let redis = Redis::start();
    let ciq = Ciq::new(&redis);
    ciq.config("[tasks.noop]\nmax_retries = 10\n[worker]\nmax_deliveries = 50\n");
    let n = 10_000;
    ciq.ok(&[
        "enqueue",
        "noop",
        "--count",
        &n.to_string(),
        "--args-json",
        r#"{"sleep_ms": 2, "record": "t:runs"}"#,
    ]);
    let mut workers = vec![
        ciq.spawn_worker("w0", &["--concurrency", "8"]),
        ciq.spawn_worker("w1", &["--concurrency", "8"]),
    ];
    let mut kills = 0;
    let deadline = Instant::now() + Duration::from_secs(120);
    let mut i = 0;
    while redis.int(&["LLEN", "t:runs"]) < n && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(700));
        let k = i % 2;
        sigkill(&mut workers[k]);
        kills += 1;
        workers[k] = ciq.spawn_worker(&format!("w{k}-{i}"), &["--concurrency", "8"]);
        i += 1;
    }
    let done = wait_until(Duration::from_secs(60), || {
        counts(&list(&redis, "t:runs")).len() as i64 >= n
    });
    for w in &mut workers {
        sigkill(w);
    }
    let c = counts(&list(&redis, "t:runs"));
    assert!(
        done,
        "every task completed: {} of {n} after {kills} kills",
        c.len()
    );
    assert_eq!(c.len() as i64, n);
    let twice = c.values().filter(|&&v| v > 1).count();
    // Only tasks in flight at a kill may run twice: at most `concurrency` per kill.
    assert!(
        twice <= kills * 8,
        "{twice} tasks ran twice with {kills} kills"
    );
    let d = depth(&ciq, "default");
    assert_eq!(d["dead"].as_u64(), Some(0), "nothing dead: {d}");
}

#[test]
fn redis_restart_mid_drain_loses_nothing() {
    let mut redis = Redis::start_aof();
    let ciq = Ciq::new(&redis);
    let n = 3000;
    ciq.ok(&[
        "enqueue",
        "noop",
        "--count",
        &n.to_string(),
        "--args-json",
        r#"{"sleep_ms": 2, "record": "t:runs"}"#,
    ]);
    let mut w = ciq.spawn_worker("w", &["--concurrency", "4"]);
    assert!(wait_until(Duration::from_secs(20), || redis
        .int(&["LLEN", "t:runs"])
        > 200));
    redis.restart();
    let ok = wait_until(Duration::from_secs(60), || {
        counts(&list(&redis, "t:runs")).len() as i64 >= n
    });
    let c = counts(&list(&redis, "t:runs"));
    sigterm(&w);
    assert!(
        wait_exit(&mut w, Duration::from_secs(10)).is_some(),
        "worker still stops cleanly"
    );
    assert!(
        ok,
        "all tasks ran after the restart: {} of {n}; log: {}",
        c.len(),
        ciq.log("w")
    );
    assert!(
        ciq.log("w").contains("retrying") || ciq.log("w").contains("failed"),
        "the outage was logged"
    );
}

#[test]
fn malformed_message_goes_dead_and_the_next_task_runs() {
    let redis = Redis::start();
    let ciq = Ciq::new(&redis);
    redis.cli(&["LPUSH", "ciq:{default}:pending", "this is {not json"]);
    redis.cli(&[
        "LPUSH",
        "ciq:{default}:pending",
        r#"{"v":1,"id":"X1","task":"noop"}"#,
    ]);
    ciq.ok(&["enqueue", "noop", "--arg", "incr=t:done"]);
    let mut w = ciq.spawn_worker("w", &[]);
    assert!(wait_until(Duration::from_secs(10), || redis
        .int(&["GET", "t:done"])
        == 1));
    assert!(wait_until(Duration::from_secs(5), || depth(
        &ciq, "default"
    )["dead"]
        == 2));
    let dead: Vec<serde_json::Value> =
        serde_json::from_str(&ciq.ok(&["inspect", "dead", "--json"])).unwrap();
    let reasons: Vec<&str> = dead.iter().filter_map(|d| d["reason"].as_str()).collect();
    assert!(
        reasons.iter().any(|r| r.contains("malformed")),
        "{reasons:?}"
    );
    assert!(
        reasons.iter().any(|r| r.contains("undecodable")),
        "{reasons:?}"
    );
    sigterm(&w);
    wait_exit(&mut w, Duration::from_secs(10));
}

#[test]
fn same_unique_key_twice_is_one_task() {
    let redis = Redis::start();
    let ciq = Ciq::new(&redis);
    let a = ciq.ok(&["enqueue", "noop", "--unique", "k1"]);
    let o = ciq.run(&["enqueue", "noop", "--unique", "k1"]);
    assert!(o.status.success(), "a duplicate is not an error");
    assert_eq!(
        String::from_utf8_lossy(&o.stdout),
        a,
        "prints the existing id"
    );
    assert!(String::from_utf8_lossy(&o.stderr).contains("duplicate"));
    assert_eq!(depth(&ciq, "default")["pending"], 1);
    // Once done, the key is free again.
    let mut w = ciq.spawn_worker("w", &[]);
    assert!(wait_until(Duration::from_secs(10), || depth(
        &ciq, "default"
    )["pending"]
        == 0
        && depth(&ciq, "default")["active"] == 0));
    sigterm(&w);
    wait_exit(&mut w, Duration::from_secs(10));
    let b = ciq.ok(&["enqueue", "noop", "--unique", "k1"]);
    assert_ne!(a, b);
}

#[test]
fn sigterm_lets_a_long_task_finish() {
    let redis = Redis::start();
    let ciq = Ciq::new(&redis);
    let mut w = ciq.spawn_worker("w", &[]);
    std::thread::sleep(Duration::from_millis(300));
    start_running(&ciq, r#"{"sleep_ms": 1500, "incr": "t:done"}"#);
    sigterm(&w);
    let st = wait_exit(&mut w, Duration::from_secs(10)).expect("stops");
    assert!(st.success());
    assert_eq!(
        redis.int(&["GET", "t:done"]),
        1,
        "the task finished before exit"
    );
}

#[test]
fn sigterm_past_the_timeout_returns_the_task_to_pending() {
    let redis = Redis::start();
    let ciq = Ciq::new(&redis);
    let mut w = ciq.spawn_worker("w", &["--shutdown-timeout", "300ms"]);
    std::thread::sleep(Duration::from_millis(300));
    let id = start_running(&ciq, r#"{"sleep_ms": 20000, "incr": "t:done"}"#);
    sigterm(&w);
    let st = wait_exit(&mut w, Duration::from_secs(5)).expect("stops after the shutdown timeout");
    assert!(st.success());
    let d = depth(&ciq, "default");
    assert_eq!(
        (d["pending"].as_u64(), d["active"].as_u64()),
        (Some(1), Some(0)),
        "{d}"
    );
    let raw = redis.cli(&["LINDEX", "ciq:{default}:pending", "0"]);
    assert!(raw.contains(&id), "the same task is back: {raw}");
    assert_eq!(redis.int(&["GET", "t:done"]), 0);
}

#[test]
fn second_signal_returns_tasks_at_once() {
    let redis = Redis::start();
    let ciq = Ciq::new(&redis);
    let mut w = ciq.spawn_worker("w", &["--shutdown-timeout", "60s"]);
    std::thread::sleep(Duration::from_millis(300));
    start_running(&ciq, r#"{"sleep_ms": 20000}"#);
    sigterm(&w);
    std::thread::sleep(Duration::from_millis(200));
    sigterm(&w);
    assert!(
        wait_exit(&mut w, Duration::from_secs(5)).is_some(),
        "a second signal stops at once"
    );
    assert_eq!(depth(&ciq, "default")["pending"], 1);
}

#[test]
fn retries_with_backoff_then_dead_with_reason() {
    let redis = Redis::start();
    let ciq = Ciq::new(&redis);
    ciq.config("[tasks.noop]\nmax_retries = 2\nbackoff = \"50ms\"\nbackoff_max = \"200ms\"\n");
    ciq.ok(&[
        "enqueue",
        "noop",
        "--args-json",
        r#"{"fail": "retry", "record": "t:runs"}"#,
    ]);
    ciq.ok(&[
        "enqueue",
        "noop",
        "--args-json",
        r#"{"fail": "fail", "record": "t:perm"}"#,
    ]);
    let mut w = ciq.spawn_worker("w", &[]);
    assert!(wait_until(Duration::from_secs(10), || depth(
        &ciq, "default"
    )["dead"]
        == 2));
    assert_eq!(list(&redis, "t:runs").len(), 3, "1 try + 2 retries");
    assert_eq!(
        list(&redis, "t:perm").len(),
        1,
        "a permanent failure is not retried"
    );
    let dead: Vec<serde_json::Value> =
        serde_json::from_str(&ciq.ok(&["inspect", "dead", "--json"])).unwrap();
    let perm = dead
        .iter()
        .find(|d| d["attempt"] == 1)
        .expect("permanent failure is dead");
    assert_eq!(perm["reason"], "failed permanently");
    let dead: Vec<serde_json::Value> = dead.into_iter().filter(|d| d["attempt"] == 3).collect();
    assert_eq!(dead[0]["attempt"], 3);
    assert!(dead[0]["reason"]
        .as_str()
        .unwrap()
        .contains("retries exhausted"));
    assert!(dead[0]["last_error"]
        .as_str()
        .unwrap()
        .contains("retryable"));
    // requeue gives it a fresh set of attempts
    let id = dead[0]["id"].as_str().unwrap().to_string();
    ciq.ok(&["requeue", &id]);
    assert!(wait_until(Duration::from_secs(10), || list(
        &redis, "t:runs"
    )
    .len()
        == 6));
    sigterm(&w);
    wait_exit(&mut w, Duration::from_secs(10));
}

#[test]
fn delayed_tasks_wait_in_redis_until_due() {
    let redis = Redis::start();
    let ciq = Ciq::new(&redis);
    let mut w = ciq.spawn_worker("w", &[]);
    let t0 = Instant::now();
    ciq.ok(&[
        "enqueue",
        "noop",
        "--countdown",
        "1500ms",
        "--arg",
        "incr=t:done",
    ]);
    assert_eq!(depth(&ciq, "default")["scheduled"], 1);
    assert!(wait_until(Duration::from_secs(10), || redis
        .int(&["GET", "t:done"])
        == 1));
    assert!(
        t0.elapsed() >= Duration::from_millis(1400),
        "not before it is due"
    );
    sigterm(&w);
    wait_exit(&mut w, Duration::from_secs(10));
}

#[test]
fn paused_queue_is_not_taken_until_resumed() {
    let redis = Redis::start();
    let ciq = Ciq::new(&redis);
    let mut w = ciq.spawn_worker("w", &[]);
    ciq.ok(&["pause", "default"]);
    ciq.ok(&["enqueue", "noop", "--arg", "incr=t:done"]);
    std::thread::sleep(Duration::from_millis(1500));
    assert_eq!(redis.int(&["GET", "t:done"]), 0);
    assert_eq!(depth(&ciq, "default")["paused"], true);
    ciq.ok(&["resume", "default"]);
    assert!(wait_until(Duration::from_secs(5), || redis
        .int(&["GET", "t:done"])
        == 1));
    sigterm(&w);
    wait_exit(&mut w, Duration::from_secs(10));
}

#[test]
fn inspect_active_redacts_secrets() {
    let redis = Redis::start();
    let ciq = Ciq::new(&redis);
    let env = r#"{"v":1,"id":"S1","task":"noop","queue":"default","args":{"sleep_ms":3000,"api_token":"hunter2"},"attempt":1,"max_retries":0,"enqueued_at":1}"#;
    redis.cli(&["LPUSH", "ciq:{default}:pending", env]);
    let mut w = ciq.spawn_worker("w", &[]);
    assert!(wait_until(Duration::from_secs(5), || depth(
        &ciq, "default"
    )["active"]
        == 1));
    let out = ciq.ok(&["inspect", "active", "--json"]);
    let rows: Vec<serde_json::Value> = serde_json::from_str(&out).unwrap();
    assert_eq!(rows[0]["id"], "S1");
    assert_eq!(rows[0]["args"]["api_token"], "***");
    assert!(rows[0]["worker"].as_str().unwrap().starts_with("w@"));
    assert!(!out.contains("hunter2"));
    assert!(!ciq.ok(&["inspect", "active"]).contains("hunter2"));
    sigkill(&mut w);
    assert!(!ciq.log("w").contains("hunter2"));
}

#[test]
fn purge_states_counts_and_never_touches_active() {
    let redis = Redis::start();
    let ciq = Ciq::new(&redis);
    ciq.ok(&["enqueue", "noop", "--count", "5"]);
    ciq.ok(&["enqueue", "noop", "--countdown", "1h", "--unique", "later"]);
    let o = ciq.run(&["purge", "default"]);
    assert_eq!(o.status.code(), Some(6), "refuses without a TTY and --yes");
    let o = ciq.run(&["purge", "default", "--dry-run"]);
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("5 pending") && err.contains("1 scheduled"),
        "{err}"
    );
    assert_eq!(depth(&ciq, "default")["pending"], 5);
    ciq.ok(&["purge", "default", "--yes"]);
    let d = depth(&ciq, "default");
    assert_eq!(
        (d["pending"].as_u64(), d["scheduled"].as_u64()),
        (Some(0), Some(0))
    );
    // the purged task's unique key was released
    let o = ciq.run(&["enqueue", "noop", "--unique", "later"]);
    assert!(!String::from_utf8_lossy(&o.stderr).contains("duplicate"));
}

#[test]
fn bad_input_gives_one_line_and_its_exit_code() {
    let redis = Redis::start();
    let ciq = Ciq::new(&redis);
    let check = |args: &[&str], code: i32, needle: &str| {
        let o = ciq.run(args);
        let err = String::from_utf8_lossy(&o.stderr).to_string();
        assert_eq!(o.status.code(), Some(code), "{args:?}: {err}");
        assert!(err.contains(needle), "{args:?}: {err}");
        assert!(!err.contains("panicked"), "{err}");
        assert!(err.lines().next().unwrap().starts_with("error: "), "{err}");
    };
    check(&["enqueue", "bogus"], 2, "unknown task \"bogus\"");
    check(
        &["enqueue", "noop", "--countdown", "3x"],
        2,
        "invalid duration",
    );
    check(
        &["enqueue", "noop", "--args-json", "{nope"],
        2,
        "not valid JSON",
    );
    check(
        &["--broker", "redis://127.0.0.1:1/0", "enqueue", "noop"],
        3,
        "cannot reach Redis",
    );
    check(
        &["--broker", "redis://127.0.0.1:1/0", "depth"],
        3,
        "cannot reach Redis",
    );
    ciq.config("[tasks.noop]\nbackoff = \"soon\"\n");
    check(
        &["depth"],
        2,
        "ciq.toml:2: tasks.noop.backoff: invalid duration",
    );
    ciq.config("[worker\n");
    check(&["depth"], 2, "ciq.toml:1");
}

#[test]
fn enqueue_wait_exits_with_the_task_outcome() {
    let redis = Redis::start();
    let ciq = Ciq::new(&redis);
    let o = ciq.run(&["enqueue", "noop", "--wait", "--timeout", "300ms"]);
    assert_eq!(o.status.code(), Some(5), "no worker: times out");
    let mut w = ciq.spawn_worker("w", &[]);
    let o = ciq.run(&["enqueue", "noop", "--wait", "--timeout", "10s"]);
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let o = ciq.run(&[
        "enqueue",
        "noop",
        "--arg",
        "fail=fail",
        "--wait",
        "--timeout",
        "10s",
    ]);
    assert_eq!(o.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&o.stderr).contains("noop asked to fail"));
    sigterm(&w);
    wait_exit(&mut w, Duration::from_secs(10));
}

#[test]
fn a_task_whose_workers_keep_dying_goes_dead_at_the_delivery_cap() {
    let redis = Redis::start();
    let ciq = Ciq::new(&redis);
    ciq.config("[tasks.noop]\nmax_retries = 10\n[worker]\nmax_deliveries = 2\n");
    ciq.ok(&["enqueue", "noop", "--args-json", r#"{"sleep_ms": 60000}"#]);
    for round in 0..2 {
        let mut w = ciq.spawn_worker(&format!("w{round}"), &[]);
        let owner = format!("\"worker\": \"w{round}@");
        assert!(
            wait_until(Duration::from_secs(15), || ciq
                .ok(&["inspect", "active", "--json"])
                .contains(&owner)),
            "round {round}: {}",
            ciq.log(&format!("w{round}"))
        );
        sigkill(&mut w);
    }
    let mut sweeper = ciq.spawn_worker("sweeper", &["--queues", "maintenance"]);
    // The sweeper of a worker on another queue does not touch `default`; one on it does.
    let mut w = ciq.spawn_worker("last", &[]);
    assert!(wait_until(Duration::from_secs(15), || depth(
        &ciq, "default"
    )["dead"]
        == 1));
    let dead: Vec<serde_json::Value> =
        serde_json::from_str(&ciq.ok(&["inspect", "dead", "--json"])).unwrap();
    assert!(
        dead[0]["reason"]
            .as_str()
            .unwrap()
            .contains("lease expired 2 times"),
        "{dead:?}"
    );
    sigkill(&mut w);
    sigkill(&mut sweeper);
}

#[test]
fn worker_run_stops_when_its_shutdown_sender_is_dropped() {
    use ciq::config::{Overrides, Source, Sourced};
    use std::sync::Arc;
    let redis = Redis::start();
    block_on(async {
        let ov = Overrides {
            broker: Some(Sourced::new(redis.url(), Source::Flag)),
            ..Default::default()
        };
        let cfg = Arc::new(ciq::config::load(&ov).unwrap());
        let broker = ciq::broker::Broker::connect(&redis.url()).await.unwrap();
        let (tx, rx) = tokio::sync::watch::channel(ciq::worker::Shutdown::Run);
        let opts = ciq::worker::WorkerOptions::from_config(&cfg, "lib-test".into());
        let handlers: Vec<Arc<dyn ciq::worker::handler::TaskHandler>> =
            vec![Arc::new(ciq::worker::handler::Noop)];
        let run = tokio::spawn(ciq::worker::run(opts, cfg, broker, handlers, rx));
        tokio::time::sleep(Duration::from_millis(200)).await;
        drop(tx);
        let r = tokio::time::timeout(Duration::from_secs(5), run).await;
        assert!(r.is_ok(), "the worker stops instead of spinning");
    });
}

#[test]
fn a_worker_started_before_redis_waits_for_it_and_stops_on_sigterm_meanwhile() {
    let mut redis = Redis::start();
    let ciq = Ciq::new(&redis);
    redis.kill();
    let mut w = ciq.spawn_worker("early", &[]);
    std::thread::sleep(Duration::from_millis(800));
    assert!(
        w.try_wait().unwrap().is_none(),
        "it does not exit while Redis is down"
    );
    redis.restart();
    ciq.ok(&["enqueue", "noop", "--arg", "incr=t:done"]);
    assert!(
        wait_until(Duration::from_secs(15), || redis.int(&["GET", "t:done"])
            == 1),
        "{}",
        ciq.log("early")
    );
    start_running(&ciq, r#"{"sleep_ms": 30000}"#);

    redis.kill();
    let mut w2 = ciq.spawn_worker("waiting", &[]);
    std::thread::sleep(Duration::from_millis(500));
    sigterm(&w2);
    assert!(
        wait_exit(&mut w2, Duration::from_secs(3)).is_some_and(|s| s.success()),
        "SIGTERM while waiting for Redis stops it"
    );
    // A worker whose Redis died mid-task still stops: after its shutdown timeout (5 s) it
    // cannot hand the task back, gives up recording after a few seconds and exits; the
    // task stays leased in Redis and is recovered by the next worker's sweep.
    sigterm(&w);
    assert!(
        wait_exit(&mut w, Duration::from_secs(20)).is_some(),
        "graceful stop does not hang on a dead Redis: {}",
        ciq.log("early")
    );
}
