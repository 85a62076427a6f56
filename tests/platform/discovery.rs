//! Discovery: pending tests of platforms not in maintenance are queued once (ticks
//! repeat as duplicates), oldest first, and the time each was first seen is kept in
//! Redis for the rollout's "stuck test" check.

use super::db::{Backend, Bind};
use super::{on_all_backends, Env};
use crate::harness::wait_until;
use std::time::Duration;

fn run(b: Backend) {
    let mut env = Env::new(b);
    env.db.add_tests(1, 3, "linux");
    env.db.add_tests(4, 2, "windows");
    env.db.add_tests(6, 2, "linux");
    env.db.exec(
        "INSERT INTO maintenance_mode (platform, disabled) VALUES ('windows', ?)",
        &[Bind::B(true)],
    );
    env.db.exec(
        "INSERT INTO maintenance_mode (platform, disabled) VALUES ('linux', ?)",
        &[Bind::B(false)],
    );
    // 6 is finished, 7 has an instance: neither is pending.
    env.db.exec(
        "INSERT INTO test_progress (test_id, status, timestamp, message) VALUES (6, 'canceled', ?, 'x')",
        &[Bind::T(chrono::Utc::now().naive_utc())],
    );
    env.db.exec(
        "INSERT INTO gcp_instance (name, test_id, timestamp) VALUES ('linux-7', 7, ?)",
        &[Bind::T(chrono::Local::now().naive_local())],
    );
    env.config("[platform]\nstart_vm = { exec = [\"true\"] }\n");
    // Only the discovery queue is worked: start_test tasks stay pending to be looked at.
    let w = env.ciq.spawn_worker("w1", &["--queues", "default"]);
    env.workers.push(w);
    let tick = [
        "enqueue",
        "process_pending_tests",
        "--wait",
        "--timeout",
        "20s",
    ];
    env.ciq.ok(&tick);
    let pending = |env: &Env| env.redis.int(&["LLEN", "ciq:{test_execution}:pending"]);
    assert_eq!(pending(&env), 3, "tests 1-3 queued; windows in maintenance");
    let first = env.redis.cli(&["HGETALL", "ciq:platform:first_seen"]);
    let ids: Vec<&str> = first.lines().step_by(2).collect();
    assert_eq!(ids.len(), 3, "{first}");
    for id in ["1", "2", "3"] {
        assert!(ids.contains(&id), "{first}");
    }
    std::thread::sleep(Duration::from_millis(20));
    env.ciq.ok(&tick);
    assert_eq!(pending(&env), 3, "a second tick only finds duplicates");
    assert_eq!(
        env.redis.cli(&["HGETALL", "ciq:platform:first_seen"]),
        first,
        "first-seen times kept"
    );

    // Oldest first: the queue is FIFO, so test 1 is next out.
    let next = env
        .redis
        .cli(&["LINDEX", "ciq:{test_execution}:pending", "-1"]);
    assert!(next.contains("\"test_id\":1"), "{next}");

    // Once started, a test leaves the first-seen record.
    env.db.exec(
        "INSERT INTO gcp_instance (name, test_id, timestamp) VALUES ('linux-1', 1, ?)",
        &[Bind::T(chrono::Local::now().naive_local())],
    );
    env.ciq.ok(&tick);
    assert!(wait_until(Duration::from_secs(5), || env
        .redis
        .int(&["HLEN", "ciq:platform:first_seen"])
        == 2));

    // A start asked for by hand (webhook) waits while its platform is in maintenance.
    let w = env.ciq.spawn_worker("w2", &["--queues", "test_execution"]);
    env.workers.push(w);
    env.ciq.ok(&[
        "enqueue",
        "start_test",
        "--arg",
        "test_id=4",
        "--wait",
        "--timeout",
        "20s",
    ]);
    assert!(wait_until(Duration::from_secs(10), || env
        .db
        .instances()
        .len()
        == 4));
    assert_eq!(
        env.db.instances(),
        vec!["linux-1", "linux-2", "linux-3", "linux-7"],
        "linux tests started, windows-4 left pending"
    );
    assert!(env.db.progress(4).is_empty());
}

on_all_backends!(discovery, super::run);
