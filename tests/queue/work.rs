//! Enqueue → claim → done (issue 2), the built-in `noop` writes only its bench keys, and a
//! drain at `--concurrency 1` costs about one Redis round trip per task (issue 20).

use crate::harness::*;
use std::time::Duration;

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
    let st = w
        .stop(Duration::from_secs(10))
        .expect("worker stops on SIGTERM");
    assert!(st.success());
}

/// `noop` is benchmark support: it writes only keys under `ciq:bench:`. Naming any other
/// key (ciq's own included) fails the task permanently and writes nothing.
#[test]
fn noop_writes_only_bench_keys() {
    let redis = Redis::start();
    let ciq = Ciq::new(&redis);
    let (paused, workers) = (keys::q("default").paused, keys::workers());
    let bad = [
        ("incr", paused.as_str()),
        ("record", workers.as_str()),
        ("lat_key", "t:lat"),
        ("incr", "ciq:bench:"),
    ];
    for (i, (arg, key)) in bad.iter().enumerate() {
        // Raw envelopes: `enqueue` itself refuses an arg named like `lat_key`.
        let env = serde_json::json!({"v": 1, "id": format!("B{i}"), "task": "noop",
            "queue": "default", "args": {*arg: key, "enq_ts": 1.0}, "attempt": 1,
            "max_retries": 0, "enqueued_at": 1});
        redis.cli(&["LPUSH", &keys::q("default").pending, &env.to_string()]);
    }
    ciq.ok(&[
        "enqueue",
        "noop",
        "--args-json",
        r#"{"incr": "ciq:bench:ok", "record": "ciq:bench:runs"}"#,
    ]);
    let mut w = ciq.spawn_worker("w", &[]);
    assert!(wait_until(Duration::from_secs(10), || ciq.depth("default")
        ["dead"]
        == bad.len()));
    assert!(wait_until(Duration::from_secs(5), || redis
        .int(&["GET", "ciq:bench:ok"])
        == 1));
    w.stop(Duration::from_secs(10));
    assert_eq!(redis.list("ciq:bench:runs").len(), 1);
    for (_, key) in bad {
        assert_eq!(redis.int(&["EXISTS", key]), 0, "{key} was not written");
    }
    assert_eq!(ciq.depth("default")["paused"], false);
    let dead = ciq.dead();
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

/// Redis's count of reads from its clients (one per round trip that carries requests).
fn reads_processed(redis: &Redis) -> i64 {
    redis
        .cli(&["INFO", "stats"])
        .lines()
        .find_map(|l| l.strip_prefix("total_reads_processed:"))
        .and_then(|v| v.trim().parse().ok())
        .expect("INFO stats has total_reads_processed")
}

/// Calls of one command since the last `CONFIG RESETSTAT` (Lua's calls included).
fn calls_of(redis: &Redis, command: &str) -> i64 {
    let prefix = format!("cmdstat_{command}:calls=");
    redis
        .cli(&["INFO", "commandstats"])
        .lines()
        .find_map(|l| l.strip_prefix(prefix.as_str()))
        .and_then(|v| v.split(',').next()?.parse().ok())
        .unwrap_or(0)
}

/// The platform's three queues, which a worker serves by default.
const QUEUES: [&str; 3] = ["test_execution", "default", "maintenance"];

/// Drains `n` no-op tasks on each of `queues` with one worker (serving all three queues)
/// at --concurrency 1 and returns what `measure` read of Redis as the last one was done;
/// `before` runs just before the worker starts (a baseline, or resetting Redis's
/// counters).
fn drain_at_concurrency_one<B, T>(
    queues: &[&str],
    n: i64,
    before: impl FnOnce(&Redis) -> B,
    measure: impl FnOnce(&Redis, B) -> T,
) -> T {
    let redis = Redis::start();
    let ciq = Ciq::new(&redis);
    for q in queues {
        ciq.ok(&["enqueue", "noop", "--queue", q, "--count", &n.to_string()]);
    }
    let baseline = before(&redis);
    let mut w = ciq.spawn_worker("w", &["--concurrency", "1", "--queues", &QUEUES.join(",")]);
    assert!(
        wait_until(Duration::from_secs(60), || queues
            .iter()
            .all(|q| redis.stat(q, "done") == n)),
        "{}",
        ciq.log("w")
    );
    let measured = measure(&redis, baseline);
    w.stop(Duration::from_secs(10));
    measured
}

/// Issue 20: the outcome and the refill claim are one script call on one reading of the
/// Redis clock (they were two EVALSHAs and two TIMEs): at --concurrency 1 about one
/// EVALSHA and one TIME per task.
#[test]
fn at_concurrency_one_an_outcome_and_the_next_claim_are_one_script_call() {
    let n = 400;
    let calls = drain_at_concurrency_one(
        &["default"],
        n,
        |redis| redis.cli(&["CONFIG", "RESETSTAT"]),
        |redis, _| {
            [("EVALSHA", "evalsha"), ("TIME", "time")].map(|(name, c)| (name, calls_of(redis, c)))
        },
    );
    // Start-up, the first claim and heartbeats add a few.
    for (command, calls) in calls {
        assert!(
            calls < n * 5 / 4,
            "{calls} {command} calls for {n} tasks (two per task would be {})",
            2 * n
        );
    }
}

/// Issue 20: while tasks are waiting, a worker records a task's outcome and claims the
/// next one in the same round trip, so at --concurrency 1 a drain costs about one Redis
/// round trip per task (it was two: the outcome, then the next claim).
#[test]
fn at_concurrency_one_an_outcome_and_the_next_claim_share_a_round_trip() {
    let n = 400;
    let reads = drain_at_concurrency_one(&["default"], n, reads_processed, |redis, before| {
        reads_processed(redis) - before
    });
    // Start-up, heartbeats and this test's own polling add a few dozen reads.
    assert!(
        reads < n * 3 / 2,
        "{reads} Redis reads for {n} tasks (two round trips per task would be {})",
        2 * n
    );
}

/// Issue 20, with several queues (the normal case): a worker serving three queues that
/// all have tasks still records an outcome and claims the next task in one script call
/// at --concurrency 1, though the next task is often from another queue than the last
/// (it was about 1.7 calls per task: the claim rode along only when the queue picked
/// next was the outcome's own).
#[test]
fn at_concurrency_one_a_worker_serving_three_queues_makes_one_script_call_per_task() {
    let per_queue = 200;
    let calls = drain_at_concurrency_one(
        &QUEUES,
        per_queue,
        |redis| redis.cli(&["CONFIG", "RESETSTAT"]),
        |redis, _| calls_of(redis, "evalsha"),
    );
    let n = per_queue * 3;
    // Start-up, the first claim, the claims that find a queue empty near the end, and
    // heartbeats add a few.
    assert!(
        calls < n * 5 / 4,
        "{calls} EVALSHA calls for {n} tasks on three queues (two per task would be {})",
        2 * n
    );
}
