//! A lease is the worker's: one member per worker and queue in `ciq:{Q}:leases`, however
//! many runs it holds; when it expires the sweep recovers every run of that worker, on
//! every queue. Runs under the older per-task lease set (`ciq:{Q}:lease`, written by
//! workers from before per-worker leases) are recovered too.

use crate::harness::*;
use std::time::Duration;

const QUEUES: [&str; 3] = ["test_execution", "default", "maintenance"];

fn members(redis: &Redis, key: &str) -> Vec<String> {
    redis
        .cli(&["ZRANGE", key, "0", "-1"])
        .lines()
        .filter(|l| !l.is_empty())
        .map(String::from)
        .collect()
}

fn running(redis: &Redis) -> i64 {
    QUEUES
        .iter()
        .map(|q| redis.int(&["HLEN", &keys::q(q).active]))
        .sum()
}

#[test]
fn a_worker_holds_one_lease_per_queue_and_its_runs_on_every_queue_are_recovered_after_kill_9() {
    let redis = Redis::start();
    let ciq = Ciq::new(&redis);
    for q in QUEUES {
        for _ in 0..4 {
            ciq.ok(&[
                "enqueue",
                "noop",
                "--queue",
                q,
                "--arg",
                "sleep_ms=1500",
                "--arg",
                "incr=ciq:bench:done",
            ]);
        }
    }
    let all = QUEUES.join(",");
    let mut a = ciq.spawn_worker("a", &["--concurrency", "12", "--queues", &all]);
    assert!(
        wait_until(Duration::from_secs(10), || running(&redis) == 12),
        "worker a runs all twelve: {}",
        ciq.log("a")
    );
    for q in QUEUES {
        let k = keys::q(q);
        let held = members(&redis, &k.leases);
        assert_eq!(held.len(), 1, "{q}: one lease for four runs: {held:?}");
        assert!(
            held[0].starts_with("a@"),
            "{q}: the lease is worker a's: {held:?}"
        );
        assert!(
            members(&redis, &k.lease).is_empty(),
            "{q}: no per-task lease"
        );
    }
    sigkill(&mut a);
    let _b = ciq.spawn_worker("b", &["--concurrency", "12", "--queues", &all]);
    assert!(
        wait_until(Duration::from_secs(30), || redis
            .int(&["GET", "ciq:bench:done"])
            == 12),
        "every task completes on worker b: {}",
        ciq.log("b")
    );
    assert!(wait_until(Duration::from_secs(10), || running(&redis) == 0));
    // noop counts at its end: the killed runs never got there, so twelve means once each.
    std::thread::sleep(Duration::from_millis(1500));
    assert_eq!(redis.int(&["GET", "ciq:bench:done"]), 12);
    for q in QUEUES {
        let k = keys::q(q);
        assert_eq!(redis.stat(q, "recovered"), 4, "{q}");
        assert_eq!(redis.stat(q, "done"), 4, "{q}");
        assert!(
            members(&redis, &k.leases)
                .iter()
                .all(|m| m.starts_with("b@")),
            "{q}: the dead worker's lease went with its runs: {:?}",
            members(&redis, &k.leases)
        );
    }
}

#[test]
fn runs_under_the_older_per_task_lease_are_still_recovered() {
    let redis = Redis::start();
    let ciq = Ciq::new(&redis);
    let q = keys::q("default");
    let env = serde_json::json!({"v": 1, "id": "OLD1", "task": "noop", "queue": "default",
        "args": {"incr": "ciq:bench:done"}, "attempt": 1, "max_retries": 3, "enqueued_at": 1});
    // What a worker from before per-worker leases left when it died: its active entry
    // and a lease of the task's own, long expired.
    redis.cli(&[
        "HSET",
        &q.active,
        "OLD1",
        &format!("old@host:1:0001|7|1000|{env}"),
    ]);
    redis.cli(&["ZADD", &q.lease, "1000", "OLD1"]);
    let _w = ciq.spawn_worker("w", &[]);
    assert!(
        wait_until(Duration::from_secs(15), || redis
            .int(&["GET", "ciq:bench:done"])
            == 1),
        "the orphaned run is recovered and done: {}",
        ciq.log("w")
    );
    assert_eq!(redis.stat("default", "recovered"), 1);
    assert!(members(&redis, &q.lease).is_empty());
    assert!(
        redis.int(&["ZSCORE", &q.superseded, "7"]) > 0,
        "run 7 is superseded"
    );
}
