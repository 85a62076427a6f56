//! When Redis refuses (issue 10 points 3, 4, 7, 8): eviction and out-of-memory reported,
//! not silent (`status`, `depth --check`, bulk enqueue); ACL and login failures named with
//! the broker exit code.

use crate::harness::*;
use std::time::{Duration, Instant};

fn problems(ciq: &Ciq) -> Vec<(String, String)> {
    let o = ciq.run(&["--json", "status"]);
    let v: serde_json::Value = serde_json::from_str(&stdout(&o)).expect("status --json");
    v["problems"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| {
            (
                p["severity"].as_str().unwrap().to_string(),
                p["message"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

#[test]
fn an_evicting_redis_is_critical_and_bulk_enqueue_refused() {
    let redis = Redis::start();
    let ciq = Ciq::new(&redis);
    redis.cli(&["CONFIG", "SET", "maxmemory", "100mb"]);
    redis.cli(&["CONFIG", "SET", "maxmemory-policy", "allkeys-lru"]);
    let p = problems(&ciq);
    assert!(
        p.iter()
            .any(|(s, m)| s == "critical" && m.contains("maxmemory-policy allkeys-lru")),
        "{p:?}"
    );
    let text = ciq.run(&["status"]);
    assert!(
        stdout(&text).starts_with("CRITICAL: Redis may evict keys (maxmemory-policy allkeys-lru)"),
        "critical problems come first: {}",
        stdout(&text)
    );
    let o = ciq.run(&["enqueue", "noop", "--count", "100"]);
    assert_one_error(&o, 6, "maxmemory-policy allkeys-lru");
    assert_eq!(redis.int(&["LLEN", &keys::q("default").pending]), 0);
    // The worker says so in its log at start.
    let mut w = ciq.spawn_worker("w", &[]);
    assert!(
        wait_until(Duration::from_secs(10), || ciq
            .log("w")
            .contains("maxmemory-policy allkeys-lru")),
        "{}",
        ciq.log("w")
    );
    w.stop(Duration::from_secs(10)).expect("worker stops");
    // noeviction: the problem is gone.
    redis.cli(&["CONFIG", "SET", "maxmemory-policy", "noeviction"]);
    assert!(!problems(&ciq).iter().any(|(_, m)| m.contains("evict")));
}

#[test]
fn out_of_memory_is_named_and_bulk_enqueue_counts_exactly() {
    let redis = Redis::start();
    let ciq = Ciq::new(&redis);
    redis.cli(&["CONFIG", "SET", "maxmemory", "3mb"]);
    let o = ciq.run(&["enqueue", "noop", "--count", "50000"]);
    let ids: Vec<String> = stdout(&o).lines().map(String::from).collect();
    let queued = redis.int(&["LLEN", &keys::q("default").pending]);
    assert_one_error(&o, 7, "out of memory");
    assert!(queued > 0 && queued < 50000, "part went in: {queued}");
    assert_eq!(
        ids.len() as i64,
        queued,
        "stdout lists exactly what went in"
    );
    assert!(
        stderr(&o).contains(&format!("only {queued} of 50000 tasks were queued")),
        "{}",
        stderr(&o)
    );
    // The ids on stdout are the queued tasks.
    let pending = redis.cli(&["LRANGE", &keys::q("default").pending, "0", "-1"]);
    for id in [&ids[0], &ids[ids.len() - 1]] {
        assert!(pending.contains(id.as_str()), "{id} is queued");
    }
    // Past the limit: a single enqueue fails with the OOM message, nothing half-written.
    redis.cli(&["CONFIG", "SET", "maxmemory", "1mb"]);
    let o = ciq.run(&["enqueue", "noop"]);
    assert_one_error(&o, 1, "Redis is out of memory");
    assert!(stdout(&o).is_empty());
    let o = ciq.run(&["enqueue", "noop", "--count", "10"]);
    assert_one_error(&o, 1, "Redis is out of memory");
    assert_eq!(redis.int(&["LLEN", &keys::q("default").pending]), queued);
    let p = problems(&ciq);
    assert!(
        p.iter()
            .any(|(s, m)| s == "critical" && m.starts_with("Redis is out of memory")),
        "{p:?}"
    );
    assert!(
        !p.iter().any(|(_, m)| m.starts_with("no worker is alive")),
        "OOM explains the missing heartbeats: {p:?}"
    );
    assert!(p
        .iter()
        .any(|(_, m)| m.contains("no worker heartbeat: Redis is out of memory")));
    // Near the limit: a warning with the percentage.
    let used = redis
        .cli(&["INFO", "memory"])
        .lines()
        .find_map(|l| {
            l.strip_prefix("used_memory:")
                .map(|v| v.trim().parse::<u64>().unwrap())
        })
        .unwrap();
    redis.cli(&["CONFIG", "SET", "maxmemory", &(used * 100 / 95).to_string()]);
    let p = problems(&ciq);
    assert!(
        p.iter()
            .any(|(s, m)| s == "warning" && m.contains("% of maxmemory")),
        "{p:?}"
    );
}

/// An ACL user `ciq` with the given rules and password `pw`.
fn acl_user(redis: &Redis, rules: &[&str]) {
    let mut args = vec!["ACL", "SETUSER", "ciq", "reset", "on", ">pw", "~*", "&*"];
    args.extend_from_slice(rules);
    assert_eq!(redis.cli(&args).trim(), "OK");
}

/// `ciq <args>` logged in as the ACL user `ciq` with `password` (15 s at most); its
/// output and how long it took.
fn run_as_acl_user(ciq: &Ciq, args: &[&str], password: &str) -> (std::process::Output, Duration) {
    let t = Instant::now();
    let mut cmd = ciq.cmd(args);
    cmd.env("CIQ_BROKER_USER", "ciq")
        .env("CIQ_BROKER_PASSWORD", password);
    let o = bounded(cmd, Duration::from_secs(15));
    (o, t.elapsed())
}

#[test]
fn a_worker_without_script_permission_exits_with_the_broker_code_and_a_hint() {
    let redis = Redis::start();
    let ciq = Ciq::new(&redis);
    acl_user(&redis, &["+@all", "-@scripting"]);
    let (o, took) = run_as_acl_user(&ciq, &["work"], "pw");
    assert!(took < Duration::from_secs(10), "no spin: {took:?}");
    let err = stderr(&o);
    assert_eq!(o.status.code(), Some(3), "{err}");
    let errors: Vec<&str> = err.lines().filter(|l| l.starts_with("error:")).collect();
    assert_eq!(
        errors,
        ["error: ACL user 'ciq' may not run EVALSHA: grant +@scripting"],
        "{err}"
    );
    assert!(!err.contains("pw@"), "no password in messages: {err}");
    // So does a beat (not only `--once`): no retry loop at start.
    let (o, took) = run_as_acl_user(&ciq, &["beat"], "pw");
    assert!(took < Duration::from_secs(10), "no spin: {took:?}");
    assert_eq!(o.status.code(), Some(3), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("error: ACL user 'ciq' may not run EVALSHA: grant +@scripting"),
        "{}",
        stderr(&o)
    );
    // enqueue says the same, with the same code.
    let (o, _) = run_as_acl_user(&ciq, &["enqueue", "noop"], "pw");
    assert_one_error(
        &o,
        3,
        "ACL user 'ciq' may not run EVALSHA: grant +@scripting",
    );
}

#[test]
fn wrong_or_missing_password_is_a_broker_error_with_a_hint() {
    let redis = Redis::start();
    let ciq = Ciq::new(&redis);
    acl_user(&redis, &["+@all"]);
    let (o, _) = run_as_acl_user(&ciq, &["enqueue", "noop"], "wrong");
    assert_one_error(&o, 3, "refused the login");
    assert!(!stderr(&o).contains("wrong"), "{}", stderr(&o));
    redis.cli(&["CONFIG", "SET", "requirepass", "s3cret"]);
    let o = ciq.run(&["enqueue", "noop"]);
    assert_one_error(&o, 3, "refused the login: NOAUTH");
    let t = Instant::now();
    let o = bounded(ciq.cmd(&["work"]), Duration::from_secs(15));
    assert!(t.elapsed() < Duration::from_secs(10));
    assert_one_error(&o, 3, "refused the login");
}

#[test]
fn a_running_worker_that_loses_permission_reports_it_in_status() {
    let redis = Redis::start();
    let ciq = Ciq::new(&redis);
    acl_user(&redis, &["+@all"]);
    let log = std::fs::File::create(ciq.dir().join("w.log")).unwrap();
    let _w = Proc(
        ciq.cmd(&["work", "--name", "w", "--heartbeat", "200ms"])
            .env("CIQ_BROKER_USER", "ciq")
            .env("CIQ_BROKER_PASSWORD", "pw")
            .stderr(log)
            .spawn()
            .unwrap(),
    );
    assert!(wait_until(Duration::from_secs(10), || problems(&ciq)
        .iter()
        .all(|(_, m)| !m.contains("no worker"))));
    acl_user(&redis, &["+@all", "-@scripting"]);
    let found = wait_until(Duration::from_secs(10), || {
        problems(&ciq).iter().any(|(s, m)| {
            s == "critical"
                && m.contains("cannot work: ACL user 'ciq' may not run EVALSHA: grant +@scripting")
        })
    });
    assert!(found, "{:?}\n{}", problems(&ciq), ciq.log("w"));
    // Granted again: the problem clears by itself.
    acl_user(&redis, &["+@all"]);
    assert!(
        wait_until(Duration::from_secs(10), || !problems(&ciq)
            .iter()
            .any(|(_, m)| m.contains("cannot work"))),
        "{:?}",
        problems(&ciq)
    );
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
