//! How task histories are trimmed. Ended tasks go onto `ciq:{Q}:history:ends`, a list of
//! "<end ms>|<id>", oldest first. Trimming takes entries off its head and deletes a
//! record only if the record still says its task ended at that time. So a task requeued
//! from dead keeps its history while it is live again or has ended again since, and a
//! superseded run's late `fenced` note does not keep a record forever. The sweeps move
//! the sorted-set index older workers kept into the list.

use crate::harness::*;
use std::time::Duration;

const DEAD_THEN_REQUEUED: &str =
    "{\"at\":1,\"ev\":\"enqueued\"}\n{\"at\":5,\"ev\":\"dead\"}\n{\"at\":6,\"ev\":\"requeued\"}";

fn has_record(redis: &Redis, id: &str) -> bool {
    redis.int(&["HEXISTS", &keys::q("default").history, id]) == 1
}

fn run_noops(ciq: &Ciq, redis: &Redis, n: usize) {
    for _ in 0..n {
        ciq.ok(&["enqueue", "noop"]);
    }
    let _w = ciq.spawn_worker("w", &["--queues", "default", "--concurrency", "1"]);
    assert!(
        wait_until(Duration::from_secs(20), || redis.stat("default", "done")
            == n as i64),
        "{}",
        ciq.log("w")
    );
}

#[test]
fn trimming_keeps_the_history_of_a_task_live_again_or_ended_again_and_reads_past_fenced_notes() {
    let redis = Redis::start();
    let ciq = Ciq::new(&redis);
    ciq.config("[worker]\nhistory_max = 3\n");
    let q = keys::q("default");
    // Live again: died at 5, requeued, still pending. Its entry from the death stays.
    redis.cli(&["HSET", &q.history, "LIVE", DEAD_THEN_REQUEUED]);
    // Ended again: died at 5, requeued, then done at 9: two entries, the first stale.
    let again = format!("{DEAD_THEN_REQUEUED}\n~8|1|9|w");
    redis.cli(&["HSET", &q.history, "AGAIN", &again]);
    // Done at 20, then a superseded run's late word: the end is still at 20.
    let fenced = "{\"at\":1,\"ev\":\"enqueued\"}\n~10|1|20|w\n{\"at\":30,\"ev\":\"fenced\",\"worker\":\"x\"}";
    redis.cli(&["HSET", &q.history, "FENCED", fenced]);
    for e in ["5|LIVE", "5|AGAIN", "9|AGAIN", "20|FENCED"] {
        redis.cli(&["RPUSH", &q.history_ends, e]);
    }
    run_noops(&ciq, &redis, 6);
    assert!(has_record(&redis, "LIVE"), "a live task keeps its history");
    assert!(
        !has_record(&redis, "AGAIN"),
        "trimmed at its second end (9)"
    );
    assert!(
        !has_record(&redis, "FENCED"),
        "trimmed at its end, fenced note or not"
    );
    assert!(redis.int(&["LLEN", &q.history_ends]) <= 3);
    assert!(
        redis.int(&["HLEN", &q.history]) <= 4,
        "the cap, and the live task"
    );
}

#[test]
fn a_stale_entry_of_a_task_that_ended_again_leaves_its_record() {
    let redis = Redis::start();
    let ciq = Ciq::new(&redis);
    ciq.config("[worker]\nhistory_max = 8\n");
    let q = keys::q("default");
    // Ended again far in the future (by its record): its first entry is stale.
    let again = format!("{DEAD_THEN_REQUEUED}\n~8|1|99999999999999|w");
    redis.cli(&["HSET", &q.history, "AGAIN", &again]);
    redis.cli(&["RPUSH", &q.history_ends, "5|AGAIN"]);
    run_noops(&ciq, &redis, 10);
    assert!(has_record(&redis, "AGAIN"), "its later end is not past yet");
    assert!(redis.int(&["LLEN", &q.history_ends]) <= 8);
}

#[test]
fn the_sorted_set_index_of_older_workers_moves_into_the_end_list_oldest_first() {
    let redis = Redis::start();
    let ciq = Ciq::new(&redis);
    let q = keys::q("default");
    for (ms, id) in [("300", "C"), ("100", "A"), ("200", "B")] {
        redis.cli(&["ZADD", &q.history_ended, ms, id]);
        redis.cli(&[
            "HSET",
            &q.history,
            id,
            &format!("{{\"at\":{ms},\"ev\":\"done\"}}"),
        ]);
    }
    redis.cli(&["RPUSH", &q.history_ends, "400|D"]);
    let _w = ciq.spawn_worker("w", &["--queues", "default"]);
    assert!(
        wait_until(Duration::from_secs(15), || redis
            .int(&["EXISTS", &q.history_ended])
            == 0),
        "{}",
        ciq.log("w")
    );
    assert_eq!(
        redis.list(&q.history_ends),
        ["100|A", "200|B", "300|C", "400|D"]
    );
}
