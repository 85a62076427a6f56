//! `ciq pause` and `ciq resume`: a paused queue is not taken until resumed.

use crate::harness::*;
use std::time::Duration;

#[test]
fn paused_queue_is_not_taken_until_resumed() {
    let redis = Redis::start();
    let ciq = Ciq::new(&redis);
    let mut w = ciq.spawn_worker("w", &[]);
    ciq.ok(&["pause", "default"]);
    ciq.ok(&["enqueue", "noop", "--arg", "incr=ciq:bench:done"]);
    std::thread::sleep(Duration::from_millis(1500));
    assert_eq!(redis.int(&["GET", "ciq:bench:done"]), 0);
    assert_eq!(ciq.depth("default")["paused"], true);
    ciq.ok(&["resume", "default"]);
    assert!(wait_until(Duration::from_secs(5), || redis
        .int(&["GET", "ciq:bench:done"])
        == 1));
    w.stop(Duration::from_secs(10));
}
