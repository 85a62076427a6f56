//! Delayed tasks (`--countdown`, `--eta`): they wait in Redis until due.

use crate::harness::*;
use std::time::{Duration, Instant};

#[test]
fn delayed_tasks_wait_in_redis_until_due() {
    let redis = Redis::start();
    let ciq = Ciq::new(&redis);
    let mut w = ciq.spawn_worker("w", &[]);
    let t0 = Instant::now();
    ciq.ok(&[
        "enqueue",
        "noop",
        "--countdown",
        "1500ms",
        "--arg",
        "incr=ciq:bench:done",
    ]);
    assert_eq!(ciq.depth("default")["scheduled"], 1);
    assert!(wait_until(Duration::from_secs(10), || redis
        .int(&["GET", "ciq:bench:done"])
        == 1));
    assert!(
        t0.elapsed() >= Duration::from_millis(1400),
        "not before it is due"
    );
    w.stop(Duration::from_secs(10));
}
