//! `ciq cancel`: each state, the unique key released, the history, the exit codes; a
//! running task only with --terminate, and its run's later outcome refused.

use super::http::event_names;
use crate::harness::*;
use serde_json::Value;
use std::process::Stdio;
use std::time::Duration;

fn state(ciq: &Ciq, id: &str) -> Value {
    serde_json::from_str(&ciq.ok(&["--json", "inspect", "task", id])).unwrap()
}

fn last_event(t: &Value) -> String {
    t["events"].as_array().unwrap().last().unwrap()["event"]
        .as_str()
        .unwrap()
        .to_string()
}

#[test]
fn cancel_makes_a_pending_scheduled_or_retrying_task_canceled_and_releases_its_unique_key() {
    let redis = Redis::start();
    let ciq = Ciq::new(&redis);
    let pending = enqueue(&ciq, &["noop", "--unique", "start_test:1"]);
    let scheduled = enqueue(
        &ciq,
        &["noop", "--unique", "start_test:2", "--countdown", "5m"],
    );
    let retrying = enqueue(
        &ciq,
        &["noop", "--unique", "start_test:3", "--countdown", "5m"],
    );
    // Make the third a retrying task: same data, the retry set instead of scheduled.
    let due = redis.cli(&["ZSCORE", &keys::q("default").scheduled, &retrying]);
    redis.cli(&["ZREM", &keys::q("default").scheduled, &retrying]);
    redis.cli(&["ZADD", &keys::q("default").retry, due.trim(), &retrying]);
    let out = ciq.ok(&["cancel", &pending]);
    assert_eq!(
        out.trim(),
        format!("canceled {pending} (was pending) in default")
    );
    let out = ciq.ok(&["cancel", "--unique", "start_test:2"]);
    assert!(out.contains("(was scheduled)"), "{out}");
    let j: Value = serde_json::from_str(&ciq.ok(&["--json", "cancel", &retrying])).unwrap();
    assert_eq!(j["from"], "retry");
    assert_eq!(j["canceled"], true);
    for (id, n) in [(&pending, 1), (&scheduled, 2), (&retrying, 3)] {
        let t = state(&ciq, id);
        assert_eq!(t["state"], "canceled", "{t}");
        assert_eq!(last_event(&t), "canceled");
        assert_eq!(
            redis.int(&[
                "EXISTS",
                &keys::q("default").unique(&format!("start_test:{n}"))
            ]),
            0
        );
    }
    for k in ["LLEN", "ZCARD", "ZCARD", "HLEN"] {
        let q = keys::q("default");
        let key = match k {
            "LLEN" => &q.pending,
            "HLEN" => &q.data,
            _ => &q.scheduled,
        };
        assert_eq!(redis.int(&[k, key]), 0, "{k} {key}");
    }
    assert_eq!(redis.int(&["ZCARD", &keys::q("default").retry]), 0);
    let d: Value = serde_json::from_str(&ciq.ok(&["--json", "depth", "default"])).unwrap();
    assert_eq!(
        (
            d[0]["pending"].as_u64(),
            d[0]["scheduled"].as_u64(),
            d[0]["retry"].as_u64()
        ),
        (Some(0), Some(0), Some(0))
    );
    assert_eq!(
        redis
            .cli(&["HGET", &keys::q("default").stats, "canceled"])
            .trim(),
        "3"
    );
    // The key is free: the same unique key enqueues a new task.
    let again = enqueue(&ciq, &["noop", "--unique", "start_test:1"]);
    assert_ne!(again, pending);
    // A second cancel finds nothing live.
    let o = ciq.run(&["cancel", &pending]);
    assert_eq!(o.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&o.stderr).contains("is canceled: nothing to cancel"));
}

#[test]
fn cancel_of_an_unknown_or_dead_task_exits_1_with_one_line() {
    let redis = Redis::start();
    let ciq = Ciq::new(&redis);
    let err = ciq.fails(&["cancel", "01NOSUCHTASK000000000000XX"], 1);
    assert!(
        err.lines()
            .next()
            .unwrap()
            .starts_with("error: no record of task 01NOSUCHTASK"),
        "{err}"
    );
    let dead = super::http::dead_task(&ciq, &redis);
    let o = ciq.run(&["cancel", &dead]);
    assert_eq!(o.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&o.stderr).contains("is dead: nothing to cancel"));
    assert_eq!(redis.int(&["ZCARD", &keys::q("default").dead]), 1);
    assert_eq!(ciq.run(&["cancel"]).status.code(), Some(2));
}

#[test]
fn cancel_of_a_running_task_needs_terminate_and_its_later_outcome_is_refused() {
    let redis = Redis::start();
    let ciq = Ciq::new(&redis);
    let id = enqueue(
        &ciq,
        &["noop", "--arg", "sleep_ms=2500", "--unique", "start_test:9"],
    );
    let _w = ciq.spawn_worker("w-cancel", &["--queues", "default"]);
    assert!(wait_until(Duration::from_secs(10), || redis
        .int(&["HLEN", &keys::q("default").active])
        == 1));
    let o = ciq.run(&["cancel", &id]);
    assert_eq!(
        o.status.code(),
        Some(6),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    assert_eq!(redis.int(&["HLEN", &keys::q("default").active]), 1);
    let out = ciq.ok(&["cancel", &id, "--terminate"]);
    assert!(out.contains("(was active)"), "{out}");
    assert_eq!(redis.int(&["HLEN", &keys::q("default").active]), 0);
    assert_eq!(redis.int(&["HEXISTS", &keys::q("default").active, &id]), 0);
    assert_eq!(redis.int(&["ZCARD", &keys::q("default").superseded]), 1);
    assert_eq!(
        redis.int(&["EXISTS", &keys::q("default").unique("start_test:9")]),
        0
    );
    // Its worker stops the run (or, were it to finish, its outcome would be refused):
    // the task stays canceled.
    std::thread::sleep(Duration::from_millis(3500));
    let t = state(&ciq, &id);
    assert_eq!(t["state"], "canceled", "{t}");
    let evs = event_names(&t);
    assert_eq!(
        evs,
        ["enqueued", "claimed", "canceled", "fenced"],
        "the canceled run's claim is recorded, then its worker's note that it stopped it"
    );
    // The worker stopped the run at its next renewal, long before its 2.5 s sleep ended.
    let (canceled_at, fenced_at) = (
        t["events"][2]["at_ms"].as_u64().unwrap(),
        t["events"][3]["at_ms"].as_u64().unwrap(),
    );
    assert!(fenced_at < canceled_at + 2000, "{t}");
    assert!(t["events"][1]["worker"]
        .as_str()
        .unwrap()
        .contains("w-cancel"));
    assert_eq!(
        redis
            .cli(&["HGET", &keys::q("default").stats, "done"])
            .trim(),
        ""
    );
}

#[test]
fn a_client_waiting_on_a_canceled_task_is_told_and_exits_1() {
    let redis = Redis::start();
    let ciq = Ciq::new(&redis);
    let mut waiter = ciq.spawn(
        &[
            "enqueue",
            "noop",
            "--countdown",
            "10m",
            "--wait",
            "--timeout",
            "30s",
        ],
        Stdio::piped(),
        Stdio::piped(),
    );
    assert!(wait_until(Duration::from_secs(10), || redis
        .int(&["ZCARD", &keys::q("default").scheduled])
        == 1));
    let id = redis
        .cli(&["ZRANGE", &keys::q("default").scheduled, "0", "0"])
        .trim()
        .to_string();
    ciq.ok(&["cancel", &id]);
    let status = wait_exit(&mut waiter, Duration::from_secs(10)).expect("the waiter ends");
    assert_eq!(status.code(), Some(1));
    let mut err = String::new();
    std::io::Read::read_to_string(waiter.0.stderr.as_mut().unwrap(), &mut err).unwrap();
    assert!(
        err.contains("canceled by ciq cancel (it was scheduled)"),
        "{err}"
    );
}
