//! The test harness itself: it talks to the redis-server it started, a failed
//! `redis-cli` is a failure (not "0"), ciq never reads the host's config, and the
//! database tests drop their databases.

use crate::harness::*;
use crate::platform::db::{database_exists, Backend, TestDb};
use std::panic::{catch_unwind, AssertUnwindSafe};

fn panic_text(e: Box<dyn std::any::Any + Send>) -> String {
    e.downcast_ref::<String>()
        .cloned()
        .or_else(|| e.downcast_ref::<&str>().map(|s| s.to_string()))
        .unwrap_or_default()
}

#[test]
fn the_harness_talks_to_the_redis_server_it_started() {
    let mut redis = Redis::start_aof();
    assert_eq!(redis.server_pid(), redis.child_pid());
    let before = redis.child_pid();
    redis.restart();
    assert_eq!(redis.server_pid(), redis.child_pid(), "and after a restart");
    assert_ne!(redis.child_pid(), before, "a new process");
}

/// A second server on a taken port exits while the first keeps answering PING: the
/// harness must notice that the answering server is not its own.
#[test]
fn the_harness_refuses_a_port_another_server_answers() {
    let first = Redis::start();
    let r = catch_unwind(AssertUnwindSafe(|| Redis::start_on_port(first.port)));
    let msg = panic_text(r.err().expect("starting on a taken port must fail"));
    assert!(
        msg.contains("is the port taken") || msg.contains("not the redis-server this test started"),
        "{msg}"
    );
    assert_eq!(
        first.server_pid(),
        first.child_pid(),
        "the first is untouched"
    );
}

#[test]
fn a_failed_redis_cli_is_a_failure_not_zero() {
    let mut redis = Redis::start();
    redis.cli(&["SET", "ciq:bench:n", "7"]);
    assert_eq!(redis.int(&["GET", "ciq:bench:n"]), 7);
    assert_eq!(redis.int(&["GET", "ciq:bench:missing"]), 0, "nil is 0");
    let e = catch_unwind(AssertUnwindSafe(|| {
        redis.int(&["INCR", "ciq:bench:n", "extra"])
    }));
    assert!(
        panic_text(e.unwrap_err()).contains("ERR"),
        "an error reply fails"
    );
    let e = catch_unwind(AssertUnwindSafe(|| redis.int(&["GET", "ciq:bench:n"])));
    assert!(e.is_ok());
    redis.cli(&["SET", "ciq:bench:s", "text"]);
    assert!(catch_unwind(AssertUnwindSafe(|| redis.int(&["GET", "ciq:bench:s"]))).is_err());
    redis.kill();
    let e = catch_unwind(AssertUnwindSafe(|| redis.int(&["LLEN", "ciq:bench:n"])));
    assert!(
        panic_text(e.unwrap_err()).contains("failed"),
        "a dead server is an error"
    );
}

/// Every `ciq` the harness runs reads the test's own `ciq.toml` (`CIQ_CONFIG`), never
/// `/etc/ciq/ciq.toml`, even when the test writes no config.
#[test]
fn ciq_in_tests_reads_the_test_config_not_the_hosts() {
    let redis = Redis::start();
    let ciq = Ciq::new(&redis);
    let show: serde_json::Value =
        serde_json::from_str(&ciq.ok(&["config", "show", "--json"])).unwrap();
    assert_eq!(
        show["file"]["value"],
        ciq.config_path().display().to_string()
    );
    // And from a subdirectory, where there is no ./ciq.toml to find.
    let sub = ciq.dir().join("sub");
    std::fs::create_dir(&sub).unwrap();
    let out = ciq
        .cmd(&["config", "show", "--json"])
        .current_dir(&sub)
        .output()
        .unwrap();
    let show: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        show["file"]["value"],
        ciq.config_path().display().to_string()
    );
}

fn drops_its_database(b: Backend) {
    let name = {
        let db = TestDb::new(b);
        assert!(
            database_exists(b, &db.name),
            "{} exists while in use",
            db.name
        );
        db.name.clone()
    };
    assert!(
        !database_exists(b, &name),
        "{name} is dropped with its TestDb"
    );
    // A database whose DDL fails to load is dropped too (the test panics midway).
    let name = format!(
        "ciq_t_hygiene_{}",
        ulid::Ulid::new().to_string().to_lowercase()
    );
    let r = catch_unwind(AssertUnwindSafe(|| {
        TestDb::create(b, &name, |_| "THIS IS NOT SQL;".to_string())
    }));
    assert!(r.is_err(), "bad DDL fails the test");
    assert!(
        !database_exists(b, &name),
        "{name} is dropped after a failed start"
    );
}

#[test]
fn mariadb_test_databases_are_dropped() {
    drops_its_database(Backend::MySql);
}

#[test]
fn postgres_test_databases_are_dropped() {
    drops_its_database(Backend::Postgres);
}
