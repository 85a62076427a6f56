//! Queue core: enqueue → work → done, and the failure modes of issue 2.

use crate::harness::*;
use std::time::Duration;

#[test]
fn enqueue_work_done() {
    let redis = Redis::start();
    let ciq = Ciq::new(&redis);
    let id = ciq.ok(&["enqueue", "noop", "--arg", "incr=t:done"]);
    assert_eq!(id.trim().len(), 26, "prints a ULID: {id}");
    let mut w = ciq.spawn_worker("w1", &[]);
    assert!(wait_until(Duration::from_secs(10), || redis
        .int(&["GET", "t:done"])
        == 1));
    sigterm(&w);
    let st = wait_exit(&mut w, Duration::from_secs(10)).expect("worker stops on SIGTERM");
    assert!(st.success());
}
