//! Queue core (issue 2): enqueue → work → done, and what happens when things break.

use crate::harness::*;
use std::time::{Duration, Instant};

fn list(redis: &Redis, key: &str) -> Vec<String> {
    redis
        .cli(&["LRANGE", key, "0", "-1"])
        .lines()
        .map(String::from)
        .filter(|l| !l.is_empty())
        .collect()
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
    let id = ciq.ok(&["enqueue", "noop", "--arg", "incr=ciq:bench:done"]);
    assert_eq!(id.trim().len(), 26, "prints a ULID: {id}");
    let mut w = ciq.spawn_worker("w1", &[]);
    assert!(wait_until(Duration::from_secs(10), || redis
        .int(&["GET", "ciq:bench:done"])
        == 1));
    sigterm(&w);
    let st = wait_exit(&mut w, Duration::from_secs(10)).expect("worker stops on SIGTERM");
    assert!(st.success());
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
    ciq.ok(&["enqueue", "noop", "--arg", "incr=ciq:bench:done"]);
    let mut w = ciq.spawn_worker("w", &[]);
    assert!(wait_until(Duration::from_secs(10), || redis
        .int(&["GET", "ciq:bench:done"])
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

/// A task no worker knows (enqueued where it was configured, run where it is not) goes
/// to dead with the reason, and the worker keeps going.
#[test]
fn an_unknown_task_goes_dead_and_the_next_task_runs() {
    let redis = Redis::start();
    let ciq = Ciq::new(&redis);
    ciq.config("[tasks.gone]\nrunner = { exec = [\"true\"] }\n");
    let id = ciq.ok(&["enqueue", "gone"]).trim().to_string();
    ciq.config("");
    ciq.ok(&["enqueue", "noop", "--arg", "incr=ciq:bench:done"]);
    let mut w = ciq.spawn_worker("w", &[]);
    assert!(wait_until(Duration::from_secs(10), || redis
        .int(&["GET", "ciq:bench:done"])
        == 1));
    assert!(wait_until(Duration::from_secs(5), || depth(
        &ciq, "default"
    )["dead"]
        == 1));
    let dead: Vec<serde_json::Value> =
        serde_json::from_str(&ciq.ok(&["inspect", "dead", "--json"])).unwrap();
    assert_eq!(dead[0]["id"], id.as_str());
    assert!(
        dead[0]["reason"]
            .as_str()
            .unwrap()
            .contains("unknown task \"gone\""),
        "{dead:?}"
    );
    let d = depth(&ciq, "default");
    assert_eq!(
        (d["pending"].as_u64(), d["active"].as_u64()),
        (Some(0), Some(0))
    );
    sigterm(&w);
    assert!(wait_exit(&mut w, Duration::from_secs(10)).is_some_and(|s| s.success()));
}

/// `noop` is benchmark support: it writes only keys under `ciq:bench:`. Naming any other
/// key (ciq's own included) fails the task permanently and writes nothing.
#[test]
fn noop_writes_only_bench_keys() {
    let redis = Redis::start();
    let ciq = Ciq::new(&redis);
    let bad = [
        ("incr", "ciq:{default}:paused"),
        ("record", "ciq:workers"),
        ("lat_key", "t:lat"),
        ("incr", "ciq:bench:"),
    ];
    for (i, (arg, key)) in bad.iter().enumerate() {
        // Raw envelopes: `enqueue` itself refuses an arg named like `lat_key`.
        let env = serde_json::json!({"v": 1, "id": format!("B{i}"), "task": "noop",
            "queue": "default", "args": {*arg: key, "enq_ts": 1.0}, "attempt": 1,
            "max_retries": 0, "enqueued_at": 1});
        redis.cli(&["LPUSH", "ciq:{default}:pending", &env.to_string()]);
    }
    ciq.ok(&[
        "enqueue",
        "noop",
        "--args-json",
        r#"{"incr": "ciq:bench:ok", "record": "ciq:bench:runs"}"#,
    ]);
    let mut w = ciq.spawn_worker("w", &[]);
    assert!(wait_until(Duration::from_secs(10), || depth(
        &ciq, "default"
    )["dead"]
        == bad.len()));
    assert!(wait_until(Duration::from_secs(5), || redis
        .int(&["GET", "ciq:bench:ok"])
        == 1));
    sigterm(&w);
    wait_exit(&mut w, Duration::from_secs(10));
    assert_eq!(list(&redis, "ciq:bench:runs").len(), 1);
    for (_, key) in bad {
        assert_eq!(redis.int(&["EXISTS", key]), 0, "{key} was not written");
    }
    assert_eq!(depth(&ciq, "default")["paused"], false);
    let dead: Vec<serde_json::Value> =
        serde_json::from_str(&ciq.ok(&["inspect", "dead", "--json"])).unwrap();
    for d in &dead {
        assert_eq!(d["reason"], "failed permanently", "{d}");
        assert!(
            d["last_error"]
                .as_str()
                .unwrap()
                .contains("must name a key under \"ciq:bench:\""),
            "{d}"
        );
    }
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
        "incr=ciq:bench:done",
    ]);
    assert_eq!(depth(&ciq, "default")["scheduled"], 1);
    assert!(wait_until(Duration::from_secs(10), || redis
        .int(&["GET", "ciq:bench:done"])
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
    ciq.ok(&["enqueue", "noop", "--arg", "incr=ciq:bench:done"]);
    std::thread::sleep(Duration::from_millis(1500));
    assert_eq!(redis.int(&["GET", "ciq:bench:done"]), 0);
    assert_eq!(depth(&ciq, "default")["paused"], true);
    ciq.ok(&["resume", "default"]);
    assert!(wait_until(Duration::from_secs(5), || redis
        .int(&["GET", "ciq:bench:done"])
        == 1));
    sigterm(&w);
    wait_exit(&mut w, Duration::from_secs(10));
}

/// Args do go to `inspect` (a plain arg shows there), and a secret-looking one is masked
/// there: running and dead tasks, table and JSON (the dead table shows no args).
#[test]
fn inspect_redacts_secrets_where_args_are_shown() {
    let redis = Redis::start();
    let ciq = Ciq::new(&redis);
    let env = r#"{"v":1,"id":"S1","task":"noop","queue":"default","args":{"sleep_ms":1500,"api_token":"hunter2","fail":"fail","label":"plain-arg-7"},"attempt":1,"max_retries":0,"enqueued_at":1}"#;
    redis.cli(&["LPUSH", "ciq:{default}:pending", env]);
    let shown = |state: &str, table_args: bool| {
        let json = ciq.ok(&["inspect", state, "--json"]);
        let table = ciq.ok(&["inspect", state]);
        for (out, has_args) in [(&json, true), (&table, table_args)] {
            assert!(out.contains("S1"), "{state}: {out}");
            if has_args {
                assert!(
                    out.contains("plain-arg-7"),
                    "{state}: args are shown here: {out}"
                );
            }
            assert!(!out.contains("hunter2"), "{state}: {out}");
        }
        let rows: Vec<serde_json::Value> = serde_json::from_str(&json).unwrap();
        assert_eq!(rows[0]["id"], "S1", "{state}");
        assert_eq!(rows[0]["args"]["api_token"], "***", "{state}");
        rows[0].clone()
    };
    let mut w = ciq.spawn_worker("w", &[]);
    assert!(wait_until(Duration::from_secs(5), || depth(
        &ciq, "default"
    )["active"]
        == 1));
    let row = shown("active", true);
    assert!(row["worker"].as_str().unwrap().starts_with("w@"));
    assert!(wait_until(Duration::from_secs(10), || depth(
        &ciq, "default"
    )["dead"]
        == 1));
    shown("dead", false);
    sigterm(&w);
    wait_exit(&mut w, Duration::from_secs(10));
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
    // the purged task's unique key was released: a new task, not a duplicate
    let o = ciq.run(&["enqueue", "noop", "--unique", "later"]);
    assert_eq!(o.status.code(), Some(0), "{o:?}");
    assert!(!String::from_utf8_lossy(&o.stderr).contains("duplicate"));
    assert_eq!(
        String::from_utf8_lossy(&o.stdout).trim().len(),
        26,
        "a new id"
    );
    assert_eq!(depth(&ciq, "default")["pending"], 1);
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
    use std::sync::Arc;
    let redis = Redis::start();
    let dir = tempfile::tempdir().unwrap();
    let env = r#"{"v":1,"id":"L1","task":"noop","queue":"default","args":{"incr":"ciq:bench:done"},"attempt":1,"max_retries":0,"enqueued_at":1}"#;
    redis.cli(&["LPUSH", "ciq:{default}:pending", env]);
    block_on(async {
        let ov = lib_overrides(dir.path(), &redis.url());
        let cfg = Arc::new(ciq::config::load(&ov).unwrap());
        let broker = ciq::broker::Broker::connect(&redis.url()).await.unwrap();
        let (tx, rx) = tokio::sync::watch::channel(ciq::shutdown::Shutdown::Run);
        let opts = ciq::worker::WorkerOptions::from_config(&cfg, "lib-test".into());
        let handlers: Vec<Arc<dyn ciq::worker::handler::TaskHandler>> =
            vec![Arc::new(ciq::worker::handler::Noop)];
        let run = tokio::spawn(ciq::worker::run(opts, cfg, broker, handlers, rx));
        let t0 = Instant::now();
        while redis.int(&["GET", "ciq:bench:done"]) != 1 && t0.elapsed() < Duration::from_secs(10) {
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
        drop(tx);
        let r = tokio::time::timeout(Duration::from_secs(5), run).await;
        let summary = r
            .expect("the worker stops instead of spinning")
            .expect("the worker task did not panic")
            .expect("the worker returns its summary, not an error");
        assert_eq!(
            (summary.done, summary.retried, summary.failed),
            (1, 0, 0),
            "it ran the queued task before stopping: {summary:?}"
        );
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
    ciq.ok(&["enqueue", "noop", "--arg", "incr=ciq:bench:done"]);
    assert!(
        wait_until(Duration::from_secs(15), || redis
            .int(&["GET", "ciq:bench:done"])
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

/// Redis's count of reads from its clients (one per round trip that carries requests).
fn reads_processed(redis: &Redis) -> i64 {
    redis
        .cli(&["INFO", "stats"])
        .lines()
        .find_map(|l| l.strip_prefix("total_reads_processed:"))
        .and_then(|v| v.trim().parse().ok())
        .expect("INFO stats has total_reads_processed")
}

/// Issue 20: while tasks are waiting, a worker records a task's outcome and claims the
/// next one in the same round trip, so at --concurrency 1 a drain costs about one Redis
/// round trip per task (it was two: the outcome, then the next claim).
#[test]
fn at_concurrency_one_an_outcome_and_the_next_claim_share_a_round_trip() {
    let redis = Redis::start();
    let ciq = Ciq::new(&redis);
    let n = 400;
    ciq.ok(&["enqueue", "noop", "--count", &n.to_string()]);
    let before = reads_processed(&redis);
    let mut w = ciq.spawn_worker("w", &["--concurrency", "1"]);
    assert!(wait_until(Duration::from_secs(60), || redis.int(&[
        "HGET",
        "ciq:{default}:stats",
        "done"
    ]) == n));
    let reads = reads_processed(&redis) - before;
    sigterm(&w);
    wait_exit(&mut w, Duration::from_secs(10));
    // Start-up, heartbeats and this test's own polling add a few dozen reads.
    assert!(
        reads < n * 3 / 2,
        "{reads} Redis reads for {n} tasks (two round trips per task would be {})",
        2 * n
    );
}
