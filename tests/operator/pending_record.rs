//! A pending task's history record rides in its message (issue 20): `ciq enqueue` of one
//! task puts one list entry in Redis, marked `"h":true`, and no history hash field; the
//! record is made at the task's first outcome, with the message as submitted. `inspect
//! task` finds a pending task by scanning the pending list; a purge or a cancel of a
//! pending task records it; `--count --history` marks bulk tasks the same way. The
//! workers serve the three configured queues, as a deployment's do.

use crate::harness::*;
use std::time::Duration;

fn state_and_events(ciq: &Ciq, id: &str) -> (String, Vec<String>, serde_json::Value) {
    let v: serde_json::Value =
        serde_json::from_str(&ciq.ok(&["--json", "inspect", "task", id])).expect("json");
    let events = v["events"]
        .as_array()
        .expect("events")
        .iter()
        .map(|e| e["event"].as_str().unwrap_or("").to_string())
        .collect();
    (v["state"].as_str().unwrap_or("").to_string(), events, v)
}

#[test]
fn a_task_queued_alone_is_one_list_entry_of_under_200_bytes_until_its_outcome_records_it() {
    let redis = Redis::start();
    let ciq = Ciq::new(&redis);
    let k = keys::q("default");
    let mut ids = vec![];
    for i in 0..40 {
        let id = enqueue(&ciq, &["noop", "--arg", &format!("n={i}")]);
        ids.push(id);
    }
    assert_eq!(
        redis.int(&["HLEN", &k.history]),
        0,
        "no record while pending"
    );
    assert_eq!(redis.int(&["LLEN", &k.pending]), 40);
    let list_bytes = redis.int(&["MEMORY", "USAGE", &k.pending, "SAMPLES", "0"]);
    assert!(
        list_bytes / 40 <= 200,
        "{list_bytes} bytes for 40 pending tasks"
    );
    assert!(redis
        .list(&k.pending)
        .iter()
        .all(|m| m.contains(",\"h\":true")));

    // Pending and still found, with its arguments, although nothing is keyed by its id.
    let (state, events, v) = state_and_events(&ciq, &ids[7]);
    assert_eq!(state, "pending", "{v}");
    assert_eq!(events, ["enqueued"], "{v}");
    assert_eq!(v["args"]["n"], 7, "{v}");

    let mut w = ciq.spawn_worker("w", &[]);
    assert!(wait_until(Duration::from_secs(20), || redis
        .int(&["LLEN", &k.pending])
        == 0
        && redis.int(&["HLEN", &k.active]) == 0));
    w.stop(Duration::from_secs(10));
    assert_eq!(redis.int(&["HLEN", &k.history]), 40, "one record per task");
    let (state, events, v) = state_and_events(&ciq, &ids[7]);
    assert_eq!(state, "done", "{v}");
    assert_eq!(events, ["enqueued", "claimed", "done"], "{v}");
    assert_eq!(v["args"]["n"], 7, "the message as submitted is kept: {v}");
}

#[test]
fn purging_or_canceling_a_pending_task_without_a_record_records_it() {
    let redis = Redis::start();
    let ciq = Ciq::new(&redis);
    let purged = enqueue(&ciq, &["noop"]);
    ciq.ok(&["purge", "default", "--state", "pending", "--yes"]);
    let (state, events, v) = state_and_events(&ciq, &purged);
    assert_eq!(state, "purged", "{v}");
    assert_eq!(events, ["enqueued", "purged"], "{v}");

    let canceled = enqueue(&ciq, &["noop"]);
    ciq.ok(&["cancel", &canceled]);
    let (state, events, v) = state_and_events(&ciq, &canceled);
    assert_eq!(state, "canceled", "{v}");
    assert_eq!(events, ["enqueued", "canceled"], "{v}");
}

#[test]
fn bulk_tasks_are_recorded_at_their_outcome_only_with_history() {
    let redis = Redis::start();
    let ciq = Ciq::new(&redis);
    let k = keys::q("default");
    ciq.ok(&["enqueue", "noop", "--count", "25", "--history"]);
    ciq.enqueue_noops(25, "{}");
    assert_eq!(redis.int(&["HLEN", &k.history]), 0);
    let marked = redis
        .list(&k.pending)
        .iter()
        .filter(|m| m.contains(",\"h\":true"))
        .count();
    assert_eq!(marked, 25);
    let mut w = ciq.spawn_worker("w", &["--concurrency", "8"]);
    assert!(wait_until(Duration::from_secs(20), || redis
        .stat("default", "done")
        == 50));
    w.stop(Duration::from_secs(10));
    assert_eq!(
        redis.int(&["HLEN", &k.history]),
        25,
        "the 25 marked tasks are recorded, the 25 others not"
    );
}

#[test]
fn a_task_released_at_shutdown_keeps_its_whole_history_through_its_next_run() {
    let redis = Redis::start();
    let ciq = Ciq::new(&redis);
    let k = keys::q("default");
    let id = enqueue(&ciq, &["noop", "--arg", "sleep_ms=1500"]);
    let mut first = ciq.spawn_worker("first", &["--shutdown-timeout", "200ms"]);
    assert!(wait_until(Duration::from_secs(15), || redis
        .int(&["HLEN", &k.active])
        == 1));
    first.stop(Duration::from_secs(15));
    // Its release recorded it, and the message went back without the mark.
    assert_eq!(redis.int(&["HLEN", &k.history]), 1);
    let back = redis.list(&k.pending);
    assert_eq!(back.len(), 1, "{back:?} {}", ciq.log("first"));
    assert!(!back[0].contains("\"h\":true"), "{back:?}");

    let mut second = ciq.spawn_worker("second", &[]);
    let mut last = (String::new(), vec![], serde_json::Value::Null);
    assert!(
        wait_until(Duration::from_secs(20), || {
            last = state_and_events(&ciq, &id);
            last.0 == "done"
        }),
        "{last:?}"
    );
    second.stop(Duration::from_secs(10));
    assert_eq!(
        last.1,
        ["enqueued", "claimed", "released", "claimed", "done"],
        "{:?}",
        last.2
    );
    assert_eq!(last.2["args"]["sleep_ms"], 1500, "{}", last.2);
}

#[test]
fn a_task_with_a_unique_key_is_recorded_at_enqueue_so_its_key_finds_it_in_one_read() {
    let redis = Redis::start();
    let ciq = Ciq::new(&redis);
    let k = keys::q("default");
    let id = enqueue(&ciq, &["noop", "--unique", "report:7"]);
    assert_eq!(redis.cli(&["HEXISTS", &k.history, &id]).trim(), "1");
    assert!(!redis.list(&k.pending)[0].contains("\"h\":true"));
    let v: serde_json::Value =
        serde_json::from_str(&ciq.ok(&["--json", "inspect", "task", "--unique", "report:7"]))
            .expect("json");
    assert_eq!(v["id"], id.as_str(), "{v}");
    assert_eq!(v["state"], "pending", "{v}");
}
