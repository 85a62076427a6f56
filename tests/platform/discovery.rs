//! Discovery: the tests the platform's `gcp_instance` would start are queued once (ticks
//! repeat as duplicates), oldest first; maintenance is the platform's first row; a
//! `gcp_instance` row with a NULL test_id hides nothing (the platform's NOT IN would
//! hide everything); tests the platform's `start_test` would skip (non-final progress
//! rows) are not queued. In shadow mode nothing is queued and the evidence for the
//! stage-2 gate is recorded. First-seen times are kept in Redis.

use super::db::{Backend, Bind};
use super::{on_all_backends, Env};
use crate::harness::{assert_platform_check_warns, keys, wait_until};
use std::time::Duration;

fn seed(env: &Env) {
    env.db.add_tests(1, 3, "linux");
    env.db.add_tests(4, 2, "windows");
    env.db.add_tests(6, 3, "linux");
    let maint = |platform: &str, disabled: bool| {
        env.db.exec(
            "INSERT INTO maintenance_mode (platform, disabled) VALUES (?, ?)",
            &[Bind::S(platform.into()), Bind::B(disabled)],
        )
    };
    // The platform reads only the first row of a platform.
    maint("windows", true);
    maint("linux", false);
    maint("linux", true);
    let now_utc = Bind::T(chrono::Utc::now().naive_utc());
    // 6 is finished, 7 has an instance, 8 has a non-final progress row.
    env.db.exec(
        "INSERT INTO test_progress (test_id, status, timestamp, message) VALUES (6, 'canceled', ?, 'x')",
        std::slice::from_ref(&now_utc),
    );
    env.db.exec(
        "INSERT INTO test_progress (test_id, status, timestamp, message) VALUES (8, 'preparation', ?, 'x')",
        &[now_utc],
    );
    for (name, id) in [("linux-7", Some(7)), ("linux-999", None)] {
        env.db.exec(
            "INSERT INTO gcp_instance (name, test_id, timestamp) VALUES (?, ?, ?)",
            &[
                Bind::S(name.into()),
                match id {
                    Some(i) => Bind::I(i),
                    None => Bind::Null,
                },
                Bind::T(chrono::Local::now().naive_local()),
            ],
        );
    }
}

const TICK: [&str; 5] = [
    "enqueue",
    "process_pending_tests",
    "--wait",
    "--timeout",
    "20s",
];

/// One discovery pass; returns its result line (stderr of `enqueue --wait`).
fn tick(env: &Env) -> String {
    let o = env.ciq.run(&TICK);
    let err = String::from_utf8_lossy(&o.stderr).to_string();
    assert!(o.status.success(), "{err}");
    err
}

/// A seeded platform in `mode` and a worker "w1" of the default (discovery) queue only.
fn seeded_with_a_discovery_worker(b: Backend, mode: &str) -> Env {
    let mut env = Env::new(b);
    seed(&env);
    env.config(&format!("[platform]\nmode = \"{mode}\"\n"));
    let w = env.ciq.spawn_worker("w1", &["--queues", "default"]);
    env.workers.push(w);
    env
}

fn active(b: Backend) {
    // Only the discovery queue is worked: start_test tasks stay pending to be looked at.
    let env = seeded_with_a_discovery_worker(b, "active");
    let out = tick(&env);
    assert!(
        out.contains("pending 4: queued 3, already queued 0, not queued (have progress rows) 1"),
        "{out}"
    );
    let pending = |env: &Env| env.redis.int(&["LLEN", &keys::q("test_execution").pending]);
    assert_eq!(pending(&env), 3, "tests 1-3 queued; windows in maintenance");
    let first = env.redis.cli(&["HGETALL", &keys::platform_first_seen()]);
    let ids: Vec<&str> = first.lines().step_by(2).collect();
    assert_eq!(ids.len(), 4, "{first}");
    for id in ["1", "2", "3", "8"] {
        assert!(ids.contains(&id), "{first}");
    }
    std::thread::sleep(Duration::from_millis(20));
    env.ciq.ok(&TICK);
    assert_eq!(pending(&env), 3, "a second tick only finds duplicates");
    assert_eq!(
        env.redis.cli(&["HGETALL", &keys::platform_first_seen()]),
        first,
        "first-seen times kept"
    );
    // Oldest first: the queue is FIFO, so test 1 is next out.
    let next = env
        .redis
        .cli(&["LINDEX", &keys::q("test_execution").pending, "-1"]);
    assert!(next.contains("\"test_id\":1"), "{next}");

    // Once started (by anyone), a test leaves the first-seen record.
    env.db.exec(
        "INSERT INTO gcp_instance (name, test_id, timestamp) VALUES ('linux-1', 1, ?)",
        &[Bind::T(chrono::Local::now().naive_local())],
    );
    env.ciq.ok(&TICK);
    assert!(wait_until(Duration::from_secs(5), || env
        .redis
        .int(&["HLEN", &keys::platform_first_seen()])
        == 3));
    // ciq never wrote the platform's tables.
    assert_eq!(env.db.instances(), vec!["linux-1", "linux-7", "linux-999"]);
    assert!(env.db.progress(2).is_empty());

    // platform check names what the platform's own code gets wrong.
    assert_platform_check_warns(&env.ciq, "linux-999", "8");
}

fn shadow(b: Backend) {
    let env = seeded_with_a_discovery_worker(b, "shadow");
    let out = tick(&env);
    assert!(
        out.contains("shadow: pending 4 (the cron starts them)"),
        "{out}"
    );
    assert_eq!(
        env.redis.int(&["LLEN", &keys::q("test_execution").pending]),
        0,
        "nothing queued in shadow mode"
    );
    // The cron starts test 2 (a second later: timestamps may have whole seconds only)
    // and test 5, which ciq never saw (its platform is in maintenance for ciq's reads).
    std::thread::sleep(Duration::from_millis(1100));
    for (name, id) in [("linux-2", 2), ("windows-5", 5)] {
        env.db.exec(
            "INSERT INTO gcp_instance (name, test_id, timestamp) VALUES (?, ?, ?)",
            &[
                Bind::S(name.into()),
                Bind::I(id),
                Bind::T(chrono::Local::now().naive_local()),
            ],
        );
    }
    env.ciq.ok(&TICK);
    let status = env.ciq.status_json();
    let v: serde_json::Value = serde_json::from_str(&status).expect("status json");
    let status = format!(
        "{status}\nstarted: {}",
        env.redis
            .cli(&["HGETALL", &keys::platform_shadow_started()])
    );
    let p = &v["platform"];
    assert_eq!(p["mode"], "shadow", "{status}");
    assert_eq!(p["shadow"]["started"], 2, "{status}");
    assert_eq!(p["shadow"]["seen_before"], 1, "{status}");
    assert_eq!(p["shadow"]["missed"], serde_json::json!([5]), "{status}");
    let summary = p["shadow_summary"].as_str().unwrap_or_default();
    assert!(
        summary.starts_with("ciq saw 1 of 2 tests the cron started, a median ")
            && summary.ends_with("earlier; missed: 5"),
        "{summary}"
    );
}

on_all_backends!(discovery_active, super::active);
on_all_backends!(discovery_shadow, super::shadow);
