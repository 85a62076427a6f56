//! A late outcome from a worker whose lease was taken over is ignored.

use crate::harness::via::lines;
use crate::harness::*;
use std::time::Duration;

/// Worker A is frozen (SIGSTOP) past its lease; B recovers the task and finishes it.
/// When A wakes, its run ends in a permanent failure: that late outcome must not change
/// the task's fate (done) or the counters.
#[test]
fn a_late_outcome_from_a_worker_whose_lease_was_taken_over_is_ignored() {
    let redis = Redis::start();
    let ciq = Ciq::new(&redis);
    // The first run (on A) fails after 1 s; any later run succeeds at once.
    ciq.exec_script_task(
        "once",
        "",
        r#"#!/bin/sh
echo "$CIQ_TASK_ID $$" >> "$DIR/starts"
if mkdir "$DIR/first" 2>/dev/null; then sleep 1; exit 1; fi
"#,
    );
    let mut a = ciq.spawn_worker("a", &["--concurrency", "1"]);
    let id = ciq.ok(&["enqueue", "once"]).trim().to_string();
    assert!(wait_until(Duration::from_secs(10), || lines(
        &ciq, "starts"
    )
    .len()
        == 1));
    unsafe { libc::kill(a.id() as i32, libc::SIGSTOP) };
    let mut b = ciq.spawn_worker("b", &[]);
    let taken_over = wait_until(Duration::from_secs(20), || {
        redis.stat("default", "done") == 1
    });
    unsafe { libc::kill(a.id() as i32, libc::SIGCONT) };
    assert!(taken_over, "B finishes the task; log: {}", ciq.log("b"));
    // A's run has long failed; once A is awake and stopped, its outcome has been sent.
    std::thread::sleep(Duration::from_millis(1500));
    assert!(a.stop(Duration::from_secs(15)).is_some(), "A stops");
    b.stop(Duration::from_secs(10));
    let starts = lines(&ciq, "starts");
    assert_eq!(starts.len(), 2, "{starts:?}");
    assert!(starts.iter().all(|r| r.id == id));
    let d = ciq.depth("default");
    assert_eq!(
        (
            d["pending"].as_u64(),
            d["active"].as_u64(),
            d["retry"].as_u64(),
            d["dead"].as_u64()
        ),
        (Some(0), Some(0), Some(0), Some(0)),
        "the task stays done: {d}; log of A: {}",
        ciq.log("a")
    );
    assert_eq!(
        (
            redis.stat("default", "done"),
            redis.stat("default", "failed"),
            redis.stat("default", "dead"),
            redis.stat("default", "retried")
        ),
        (1, 0, 0, 0),
        "counters unchanged by the late outcome"
    );
    assert!(
        ciq.log("a").contains(&id),
        "A did report on the task: {}",
        ciq.log("a")
    );
}
