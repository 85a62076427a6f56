//! `--unique`: the same unique key twice is one task while the first is pending, active
//! or retrying.

use crate::harness::*;
use std::time::Duration;

#[test]
fn same_unique_key_twice_is_one_task() {
    let redis = Redis::start();
    let ciq = Ciq::new(&redis);
    let a = ciq.ok(&["enqueue", "noop", "--unique", "k1"]);
    let o = ciq.run(&["enqueue", "noop", "--unique", "k1"]);
    assert!(o.status.success(), "a duplicate is not an error");
    assert_eq!(
        String::from_utf8_lossy(&o.stdout),
        a,
        "prints the existing id"
    );
    assert!(String::from_utf8_lossy(&o.stderr).contains("duplicate"));
    assert_eq!(ciq.depth("default")["pending"], 1);
    // Once done, the key is free again.
    let mut w = ciq.spawn_worker("w", &[]);
    assert!(wait_until(Duration::from_secs(10), || ciq.depth("default")
        ["pending"]
        == 0
        && ciq.depth("default")["active"] == 0));
    w.stop(Duration::from_secs(10));
    let b = ciq.ok(&["enqueue", "noop", "--unique", "k1"]);
    assert_ne!(a, b);
}
