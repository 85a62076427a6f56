//! `enqueue --wait`: it exits with the task's outcome (done, dead, retrying, timed out).

use crate::harness::*;
use std::time::Duration;

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
    w.stop(Duration::from_secs(10));
}

#[test]
fn enqueue_wait_timeout_says_the_task_is_retrying() {
    let redis = Redis::start();
    let ciq = Ciq::new(&redis);
    ciq.config("[tasks.noop]\nmax_retries = 5\nbackoff = \"1m\"\nbackoff_max = \"1m\"\n");
    let _w = ciq.spawn_worker("w1", &["--queues", "default"]);
    // The worker is up (registered) before the task goes in, so a loaded machine's slow
    // start cannot turn "retrying" into "still pending".
    assert!(wait_until(Duration::from_secs(20), || redis
        .int(&["HLEN", &keys::workers()])
        >= 1));
    let err = ciq.fails(
        &[
            "enqueue",
            "noop",
            "--arg",
            "fail=retry",
            "--wait",
            "--timeout",
            "5s",
        ],
        5,
    );
    // Backoff has full jitter (it can be near 0), so which attempt failed last varies.
    let hint = err
        .split_once("hint: it is retrying: attempt ")
        .map(|(_, h)| h)
        .unwrap_or_default();
    assert!(
        hint.split_once(' ')
            .is_some_and(|(n, rest)| n.parse::<u32>().is_ok()
                && rest.starts_with("failed (noop asked to fail (retryable)); next run at ")),
        "{err}"
    );
    assert!(err.contains("ciq inspect task "), "{err}");

    // Without a worker it is still queued, and says so.
    drop(_w);
    let err = ciq.fails(&["enqueue", "noop", "--wait", "--timeout", "500ms"], 5);
    assert!(err.contains("hint: it is still pending"), "{err}");
}
