//! Retries and dead letters: a poison message (undecodable, an unknown task, a task whose
//! workers keep dying) goes dead and the worker keeps going; retries back off, then the
//! task goes dead with its reason.

use crate::harness::via::{counts, lines, Mode, Via};
use crate::harness::*;
use std::time::{Duration, Instant};

/// Enqueues a noop that counts itself, starts worker "w", and waits until that task ran
/// and `dead` tasks are in the dead set; returns the worker.
fn run_the_next_task_and_wait_for_dead(ciq: &Ciq, redis: &Redis, dead: u64) -> Proc {
    ciq.ok(&["enqueue", "noop", "--arg", "incr=ciq:bench:done"]);
    let w = ciq.spawn_worker("w", &[]);
    assert!(wait_until(Duration::from_secs(10), || redis
        .int(&["GET", "ciq:bench:done"])
        == 1));
    assert!(wait_until(Duration::from_secs(5), || ciq.depth("default")
        ["dead"]
        == dead));
    w
}

#[test]
fn malformed_message_goes_dead_and_the_next_task_runs() {
    let redis = Redis::start();
    let ciq = Ciq::new(&redis);
    redis.cli(&["LPUSH", &keys::q("default").pending, "this is {not json"]);
    redis.cli(&[
        "LPUSH",
        &keys::q("default").pending,
        r#"{"v":1,"id":"X1","task":"noop"}"#,
    ]);
    let mut w = run_the_next_task_and_wait_for_dead(&ciq, &redis, 2);
    let dead = ciq.dead();
    let reasons: Vec<&str> = dead.iter().filter_map(|d| d["reason"].as_str()).collect();
    assert!(
        reasons.iter().any(|r| r.contains("malformed")),
        "{reasons:?}"
    );
    assert!(
        reasons.iter().any(|r| r.contains("undecodable")),
        "{reasons:?}"
    );
    w.stop(Duration::from_secs(10));
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
    let mut w = run_the_next_task_and_wait_for_dead(&ciq, &redis, 1);
    let dead = ciq.dead();
    assert_eq!(dead[0]["id"], id.as_str());
    assert!(
        dead[0]["reason"]
            .as_str()
            .unwrap()
            .contains("unknown task \"gone\""),
        "{dead:?}"
    );
    let d = ciq.depth("default");
    assert_eq!(
        (d["pending"].as_u64(), d["active"].as_u64()),
        (Some(0), Some(0))
    );
    assert!(w.stop(Duration::from_secs(10)).is_some_and(|s| s.success()));
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
    assert!(wait_until(Duration::from_secs(15), || ciq.depth("default")
        ["dead"]
        == 1));
    let dead = ciq.dead();
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

/// Retries wait a measured backoff (full jitter up to 3 s here), then the task goes dead
/// with its reason; a permanent failure is not retried; `requeue` gives fresh attempts.
fn retries(via: Via) {
    let redis = Redis::start();
    let ciq = Ciq::new(&redis);
    via.config_with(
        &ciq,
        "max_retries = 2\nbackoff = \"3s\"\nbackoff_max = \"3s\"",
        "",
        true,
    );
    let n = 10;
    let t0 = Instant::now();
    let mut w = ciq.spawn_worker("w", &["--concurrency", "16"]);
    let retrying: Vec<String> = (0..n).map(|_| via.enqueue(&ciq, 0, Mode::Retry)).collect();
    let perm = via.enqueue(&ciq, 0, Mode::Fail);
    assert!(
        wait_until(Duration::from_secs(30), || ciq.depth("default")["dead"]
            == n + 1),
        "{}",
        ciq.depth("default")
    );
    let took = t0.elapsed();
    let runs = counts(&via.finished(&ciq, &redis));
    for id in &retrying {
        assert_eq!(runs.get(id), Some(&3), "1 try + 2 retries: {id}");
    }
    assert_eq!(
        runs.get(&perm),
        Some(&1),
        "a permanent failure is not retried"
    );
    // Each task waited two backoffs of up to 3 s each; without them the whole run takes
    // about as long as the promoter's 1 s poll allows, twice.
    assert!(
        took >= Duration::from_secs(3) && took <= Duration::from_secs(12),
        "{n} tasks with 2 backoffs of up to 3 s took {took:?}"
    );
    if via == Via::Exec {
        // Gap between the end of one attempt and the start of the next, per task.
        let (starts, ends) = (lines(&ciq, "starts"), lines(&ciq, "ends"));
        let mut gaps = vec![];
        for id in &retrying {
            let s: Vec<u64> = starts
                .iter()
                .filter(|r| &r.id == id)
                .filter_map(|r| r.ms)
                .collect();
            let e: Vec<u64> = ends
                .iter()
                .filter(|r| &r.id == id)
                .filter_map(|r| r.ms)
                .collect();
            assert_eq!((s.len(), e.len()), (3, 3), "{id}");
            gaps.extend([s[1] - e[0], s[2] - e[1]]);
        }
        let mean = gaps.iter().sum::<u64>() / gaps.len() as u64;
        let max = *gaps.iter().max().unwrap();
        eprintln!("backoff gaps (ms): mean {mean}, max {max}: {gaps:?}");
        assert!(
            max <= 3_800,
            "no wait beyond backoff_max (+ slack): {gaps:?}"
        );
        assert!(
            (900..=2_700).contains(&mean),
            "full jitter over 0..3 s averages ~1.5 s: {gaps:?}"
        );
    }
    let dead = ciq.dead();
    let p = dead
        .iter()
        .find(|d| d["id"] == perm.as_str())
        .expect("permanent failure is dead");
    assert_eq!(
        (p["attempt"].as_u64(), p["reason"].as_str()),
        (Some(1), Some("failed permanently"))
    );
    for id in &retrying {
        let d = dead
            .iter()
            .find(|d| d["id"] == id.as_str())
            .expect("retried task is dead");
        assert_eq!(d["attempt"], 3, "{d}");
        assert!(
            d["reason"].as_str().unwrap().contains("retries exhausted"),
            "{d}"
        );
        assert!(!d["last_error"].as_str().unwrap_or("").is_empty(), "{d}");
    }
    // Counters: exhausted retries are `dead`, a permanent failure is `failed`.
    assert_eq!(
        (
            redis.stat("default", "dead"),
            redis.stat("default", "failed")
        ),
        (n as i64, 1)
    );
    // requeue gives it a fresh set of attempts
    ciq.ok(&["requeue", &retrying[0]]);
    assert!(wait_until(Duration::from_secs(20), || counts(
        &via.finished(&ciq, &redis)
    )
    .get(&retrying[0])
        == Some(&6)));
    assert!(wait_until(Duration::from_secs(5), || ciq.depth("default")
        ["dead"]
        == n + 1));
    w.stop(Duration::from_secs(10));
}
via_both!(
    retries_with_measured_backoff_then_dead_with_reason,
    super::retries
);
