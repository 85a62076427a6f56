//! A fire is three steps in three slots (claim in `{beat}`, enqueue in the queue's slot,
//! settle in `{beat}`): a beat that dies between them, or loses a reply, leaves the claim
//! pending, and the next beat completes it: the task is enqueued exactly once. And an
//! upgrade from the untagged beat keys neither fires beside an older beat nor re-fires.

use super::{an_hourly_schedule, history, pending};
use crate::harness::*;

/// The beat's record of the `hourly` entry.
fn entry() -> String {
    keys::beat_entry("hourly")
}

/// Runs `beat --once` (the entry fires once), then rewinds Redis to the moment after the
/// claim: the fire is recorded as claimed and pending; `enqueued` says whether the enqueue
/// had happened (a lost reply) or not (a crash before it). Returns the fire's task id.
fn claimed_then_crashed(redis: &Redis, ciq: &Ciq, enqueued: bool) -> String {
    ciq.ok(&["beat", "--once"]);
    assert_eq!(pending(redis), 1);
    let env = redis.cli(&["LINDEX", &keys::q("default").pending, "0"]);
    let env = env.trim();
    let v: serde_json::Value = serde_json::from_str(env).unwrap();
    let id = v["id"].as_str().unwrap().to_string();
    let fire_ms = redis
        .cli(&["HGET", &entry(), "last_fire_ms"])
        .trim()
        .to_string();
    assert!(!fire_ms.is_empty());
    let p = format!(
        r#"{{"id":"{id}","fire_ms":{fire_ms},"at_ms":{fire_ms},"late":false,"holder":"gone@host","token":1,"ttl_ms":600000,"envelope":{env}}}"#
    );
    redis.cli(&["HSET", &entry(), "pending_fire", &p]);
    redis.cli(&["DEL", &keys::beat_history("hourly")]);
    if !enqueued {
        redis.cli(&[
            "DEL",
            &keys::q("default").pending,
            &keys::q("default").history,
            &keys::q("default").fired("hourly", fire_ms.parse().unwrap()),
        ]);
        assert_eq!(pending(redis), 0);
    }
    id
}

fn settled(redis: &Redis, id: &str) {
    assert_eq!(
        redis.cli(&["HEXISTS", &entry(), "pending_fire"]).trim(),
        "0"
    );
    let h = history(redis, "hourly");
    assert_eq!(h.len(), 1, "one history line for the fire");
    assert_eq!(h[0].task_id, id);
    let list = redis.cli(&["LRANGE", &keys::q("default").pending, "0", "-1"]);
    assert_eq!(
        list.matches(id).count(),
        1,
        "the task is queued once: {list}"
    );
    assert_eq!(pending(redis), 1, "and nothing else was fired");
}

/// A fire claimed by a beat that then crashed (after its enqueue when `enqueued`), then
/// `beats` runs of `beat --once`: after each, the fire is settled.
fn crashed_fire_settled_by_each_of(beats: usize, enqueued: bool) {
    let (redis, ciq) = an_hourly_schedule();
    let id = claimed_then_crashed(&redis, &ciq, enqueued);
    for _ in 0..beats {
        ciq.ok(&["beat", "--once"]);
        settled(&redis, &id);
    }
}

#[test]
fn a_beat_that_died_between_claim_and_enqueue_is_completed_once() {
    crashed_fire_settled_by_each_of(2, false);
}

#[test]
fn a_lost_reply_after_the_enqueue_does_not_enqueue_twice() {
    crashed_fire_settled_by_each_of(1, true);
}

/// Upgrading from a ciq whose beat keys had no `{beat}` tag: while the older beat's lease
/// lives the new one does not fire beside it; then it adopts the older state, so the tick
/// the older beat fired is not fired again.
#[test]
fn an_older_versions_beat_state_is_adopted_and_its_live_lease_respected() {
    let (redis, ciq) = an_hourly_schedule();
    ciq.ok(&["beat", "--once"]);
    assert_eq!(pending(&redis), 1);
    // Make it look like an older version wrote this state, and still leads.
    redis.cli(&["RENAME", &entry(), &keys::legacy_beat("entry:hourly")]);
    redis.cli(&[
        "RENAME",
        &keys::beat_history("hourly"),
        &keys::legacy_beat("history:hourly"),
    ]);
    redis.cli(&[
        "SET",
        &keys::legacy_beat("leader"),
        r#"{"holder":"old@host","since_ms":1,"token":7}"#,
        "PX",
        "60000",
    ]);
    let o = ciq.run(&["beat", "--once"]);
    assert!(o.status.success());
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("older ciq version"),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    assert_eq!(pending(&redis), 1, "nothing fired beside the older leader");
    assert_eq!(redis.cli(&["EXISTS", &entry()]).trim(), "0");
    redis.cli(&["DEL", &keys::legacy_beat("leader")]); // the older beat stopped
    ciq.ok(&["beat", "--once"]);
    assert_eq!(
        pending(&redis),
        1,
        "the adopted cursor says this hour already fired"
    );
    assert_eq!(
        redis
            .cli(&["EXISTS", &keys::legacy_beat("entry:hourly")])
            .trim(),
        "0"
    );
    assert!(!redis
        .cli(&["HGET", &entry(), "last_fire_ms"])
        .trim()
        .is_empty());
    assert_eq!(
        history(&redis, "hourly").len(),
        1,
        "its fire history came along"
    );
}
