//! `ciq purge`: states its counts and never touches active tasks.

use crate::harness::*;

#[test]
fn purge_states_counts_and_never_touches_active() {
    let redis = Redis::start();
    let ciq = Ciq::new(&redis);
    ciq.ok(&["enqueue", "noop", "--count", "5"]);
    ciq.ok(&["enqueue", "noop", "--countdown", "1h", "--unique", "later"]);
    let o = ciq.run(&["purge", "default"]);
    assert_eq!(o.status.code(), Some(6), "refuses without a TTY and --yes");
    let o = ciq.run(&["purge", "default", "--dry-run"]);
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("5 pending") && err.contains("1 scheduled"),
        "{err}"
    );
    assert_eq!(ciq.depth("default")["pending"], 5);
    ciq.ok(&["purge", "default", "--yes"]);
    let d = ciq.depth("default");
    assert_eq!(
        (d["pending"].as_u64(), d["scheduled"].as_u64()),
        (Some(0), Some(0))
    );
    // the purged task's unique key was released: a new task, not a duplicate
    let o = ciq.run(&["enqueue", "noop", "--unique", "later"]);
    assert_eq!(o.status.code(), Some(0), "{o:?}");
    assert!(!String::from_utf8_lossy(&o.stderr).contains("duplicate"));
    assert_eq!(
        String::from_utf8_lossy(&o.stdout).trim().len(),
        26,
        "a new id"
    );
    assert_eq!(ciq.depth("default")["pending"], 1);
}
