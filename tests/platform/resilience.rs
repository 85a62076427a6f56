//! The database unreachable from the worker: discovery is retried, the worker keeps
//! running.

use crate::harness::{free_port, keys, sigkill, wait_until, Ciq, Redis};
use std::time::Duration;

#[test]
fn unreachable_database_is_a_retry_not_a_crash() {
    let redis = Redis::start();
    let ciq = Ciq::new(&redis);
    ciq.config(&format!(
        "database = \"postgres://postgres@127.0.0.1:{}/none\"\n\n[tasks.process_pending_tests]\nmax_retries = 2\nbackoff = \"100ms\"\nbackoff_max = \"100ms\"\n\n[platform]\ndb_timeout = \"300ms\"\nmode = \"active\"\n",
        free_port()
    ));
    let mut w = ciq.spawn_worker("w1", &[]);
    ciq.ok(&["enqueue", "process_pending_tests"]);
    let dead = wait_until(Duration::from_secs(20), || {
        redis.int(&["ZCARD", &keys::q("default").dead]) == 1
    });
    let log = ciq.log("w1");
    assert!(dead, "retried then dead; log:\n{log}");
    assert!(
        log.matches("unreachable").count() >= 3,
        "3 attempts logged:\n{log}"
    );
    assert!(
        w.try_wait().expect("wait").is_none(),
        "the worker is still running"
    );
    sigkill(&mut w);
}
