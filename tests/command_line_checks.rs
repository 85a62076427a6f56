//! What the command line gets checked for (issue 19): a queue name that is not declared
//! is refused by every command that takes one, as the config file refuses it; a task's
//! declared argument type is enforced when it is queued; a Redis error is one line with a
//! documented exit code; `status` and `depth --check` do not say OK over an evicting Redis.

use crate::harness::*;

fn stderr(o: &std::process::Output) -> String {
    String::from_utf8_lossy(&o.stderr).to_string()
}

/// Exit `code`, exactly one `error:` line that contains `needle`, no panic.
fn assert_refused(o: &std::process::Output, code: i32, needle: &str, what: &str) {
    let err = stderr(o);
    assert_eq!(o.status.code(), Some(code), "{what}: {err}");
    let errors: Vec<&str> = err.lines().filter(|l| l.starts_with("error: ")).collect();
    assert_eq!(errors.len(), 1, "{what}: one error line: {err}");
    assert!(errors[0].contains(needle), "{what}: {err}");
    assert!(!err.contains("panicked"), "{what}: {err}");
}

#[test]
fn a_queue_typo_is_refused_by_every_command_that_takes_a_queue() {
    let redis = Redis::start();
    let ciq = Ciq::new(&redis);
    let o = ciq.run(&["enqueue", "noop", "--queue", "defualt"]);
    assert_refused(
        &o,
        2,
        "--queue \"defualt\": not a declared queue (declared: test_execution, default, maintenance)",
        "enqueue",
    );
    assert!(o.stdout.is_empty(), "no id printed");
    assert_eq!(
        redis.cli(&["KEYS", "ciq:{defualt}:*"]).trim(),
        "",
        "nothing queued in the undeclared queue"
    );
    for args in [
        &["work", "-Q", "nosuchqueue"][..],
        &["work", "--queues", "default,nosuchqueue:2"][..],
        &["up", "-Q", "nosuchqueue", "--no-redis"][..],
    ] {
        let o = bounded(ciq.cmd(args), std::time::Duration::from_secs(10));
        assert_refused(
            &o,
            2,
            "--queues \"nosuchqueue\": not a declared queue",
            &format!("{args:?}"),
        );
    }
    for (args, needle) in [
        (
            &["depth", "nosuchqueue"][..],
            "unknown queue \"nosuchqueue\"",
        ),
        (
            &["pause", "nosuchqueue"][..],
            "unknown queue \"nosuchqueue\"",
        ),
        (
            &["resume", "nosuchqueue"][..],
            "unknown queue \"nosuchqueue\"",
        ),
        (&["purge", "nosuchqueue", "--yes"][..], "unknown queue"),
        (
            &["inspect", "dead", "--queue", "nosuchqueue"][..],
            "unknown queue \"nosuchqueue\"",
        ),
        (
            &["requeue", "--dead", "--all", "--queue", "nosuchqueue"][..],
            "unknown queue \"nosuchqueue\"",
        ),
    ] {
        let o = ciq.run(args);
        assert_refused(&o, 2, needle, &format!("{args:?}"));
    }
    let o = ciq.run(&["depth", "--check", "nosuchqueue"]);
    assert_eq!(o.status.code(), Some(3), "{}", stderr(&o));
    assert!(
        String::from_utf8_lossy(&o.stdout)
            .starts_with("CIQ UNKNOWN - unknown queue \"nosuchqueue\""),
        "{}",
        String::from_utf8_lossy(&o.stdout)
    );
    // The declared ones still work.
    ciq.ok(&["enqueue", "noop", "--queue", "maintenance"]);
    ciq.ok(&["depth", "maintenance"]);
}

#[test]
fn start_test_needs_an_integer_test_id_when_it_is_queued() {
    let redis = Redis::start();
    let ciq = Ciq::new(&redis);
    for bad in ["test_id=abc", "test_id=-3", "test_id=1.5"] {
        let o = ciq.run(&["enqueue", "start_test", "--arg", bad]);
        assert_refused(
            &o,
            2,
            "start_test: argument test_id must be a positive integer",
            bad,
        );
    }
    let o = ciq.run(&["enqueue", "start_test"]);
    assert_refused(&o, 2, "start_test: missing argument test_id", "no test_id");
    assert_eq!(redis.int(&["LLEN", "ciq:{test_execution}:pending"]), 0);
    ciq.ok(&["enqueue", "start_test", "--arg", "test_id=42"]);
    assert_eq!(redis.int(&["LLEN", "ciq:{test_execution}:pending"]), 1);
}

#[test]
fn a_database_index_out_of_range_is_one_line_and_the_broker_exit_code() {
    let redis = Redis::start();
    let ciq = Ciq::new(&redis);
    let url = format!("redis://127.0.0.1:{}/99", redis.port);
    for args in [&["depth"][..], &["enqueue", "noop"][..]] {
        let mut full = vec!["--broker", url.as_str()];
        full.extend_from_slice(args);
        let o = ciq.run(&full);
        assert_refused(
            &o,
            3,
            &format!("Redis at {url} has no such database: DB index is out of range"),
            &format!("{args:?}"),
        );
        assert!(stderr(&o).contains("hint: the /N at the end of the broker URL"));
    }
}

#[test]
fn an_evicting_redis_is_critical_for_status_and_depth_check() {
    let redis = Redis::start_aof();
    let ciq = Ciq::new(&redis);
    let _w = ciq.spawn_worker("w", &[]);
    assert!(wait_until(std::time::Duration::from_secs(10), || ciq
        .run(&["status"])
        .status
        .success()));
    let o = ciq.run(&["depth", "--check"]);
    assert_eq!(o.status.code(), Some(0));
    assert!(String::from_utf8_lossy(&o.stdout).starts_with("CIQ OK"));

    redis.cli(&["CONFIG", "SET", "maxmemory-policy", "allkeys-lru"]);
    let o = ciq.run(&["status"]);
    let out = String::from_utf8_lossy(&o.stdout).to_string();
    assert!(out.contains("maxmemory-policy allkeys-lru"), "{out}");
    assert_eq!(
        o.status.code(),
        Some(9),
        "status exits 9 on CRITICAL: {out}"
    );
    let o = ciq.run(&["depth", "--check"]);
    let out = String::from_utf8_lossy(&o.stdout).to_string();
    assert_eq!(o.status.code(), Some(2), "{out}");
    assert!(
        out.starts_with(
            "CIQ CRITICAL - Redis may evict queued tasks (maxmemory-policy allkeys-lru)"
        ),
        "{out}"
    );
}
