//! Hardening (issue 10 points 3, 4, 7, 8, 9): eviction and out-of-memory reported, not
//! silent; ACL and login failures named with the broker exit code; every bad value
//! refused at parse time with one line and its documented exit code.

use crate::harness::*;
use std::process::Output;
use std::time::{Duration, Instant};

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).to_string()
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).to_string()
}

/// One `error:` line on stderr (a `hint:` line may follow) containing `needle`.
fn assert_one_error(o: &Output, code: i32, needle: &str) {
    let err = stderr(o);
    assert_eq!(o.status.code(), Some(code), "exit code; stderr: {err}");
    let errors: Vec<&str> = err.lines().filter(|l| l.starts_with("error:")).collect();
    assert_eq!(errors.len(), 1, "one error line: {err}");
    assert!(errors[0].contains(needle), "{needle:?} in {err}");
    assert!(
        err.lines()
            .all(|l| l.starts_with("error:") || l.starts_with("hint:")),
        "nothing but the error and its hint: {err}"
    );
}

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
    assert_eq!(redis.int(&["LLEN", "ciq:{default}:pending"]), 0);
    // The worker says so in its log at start.
    let mut w = ciq.spawn_worker("w", &[]);
    assert!(
        wait_until(Duration::from_secs(10), || ciq
            .log("w")
            .contains("maxmemory-policy allkeys-lru")),
        "{}",
        ciq.log("w")
    );
    sigterm(&w);
    wait_exit(&mut w, Duration::from_secs(10)).expect("worker stops");
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
    let queued = redis.int(&["LLEN", "ciq:{default}:pending"]);
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
    let pending = redis.cli(&["LRANGE", "ciq:{default}:pending", "0", "-1"]);
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
    assert_eq!(redis.int(&["LLEN", "ciq:{default}:pending"]), queued);
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

#[test]
fn a_worker_without_script_permission_exits_with_the_broker_code_and_a_hint() {
    let redis = Redis::start();
    let ciq = Ciq::new(&redis);
    acl_user(&redis, &["+@all", "-@scripting"]);
    let t = Instant::now();
    let mut cmd = ciq.cmd(&["work"]);
    cmd.env("CIQ_BROKER_USER", "ciq")
        .env("CIQ_BROKER_PASSWORD", "pw");
    let o = bounded(cmd, Duration::from_secs(15));
    assert!(
        t.elapsed() < Duration::from_secs(10),
        "no spin: {:?}",
        t.elapsed()
    );
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
    let t = Instant::now();
    let mut cmd = ciq.cmd(&["beat"]);
    cmd.env("CIQ_BROKER_USER", "ciq")
        .env("CIQ_BROKER_PASSWORD", "pw");
    let o = bounded(cmd, Duration::from_secs(15));
    assert!(
        t.elapsed() < Duration::from_secs(10),
        "no spin: {:?}",
        t.elapsed()
    );
    assert_eq!(o.status.code(), Some(3), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("error: ACL user 'ciq' may not run EVALSHA: grant +@scripting"),
        "{}",
        stderr(&o)
    );
    // enqueue says the same, with the same code.
    let mut cmd = ciq.cmd(&["enqueue", "noop"]);
    cmd.env("CIQ_BROKER_USER", "ciq")
        .env("CIQ_BROKER_PASSWORD", "pw");
    let o = bounded(cmd, Duration::from_secs(15));
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
    let mut cmd = ciq.cmd(&["enqueue", "noop"]);
    cmd.env("CIQ_BROKER_USER", "ciq")
        .env("CIQ_BROKER_PASSWORD", "wrong");
    let o = bounded(cmd, Duration::from_secs(15));
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

/// (args, ciq.toml, expected exit code, text in the error line)
const BAD_VALUES: &[(&[&str], &str, i32, &str)] = &[
    (
        &["work", "--heartbeat", "0s"],
        "",
        2,
        "--heartbeat: 0s is out of range",
    ),
    (
        &["work", "--sweep", "0s"],
        "",
        2,
        "--sweep: 0s is out of range",
    ),
    (&["work", "--lease", "1000000h"], "", 2, "--lease"),
    (
        &["work", "--concurrency", "0"],
        "",
        2,
        "--concurrency: 0 is out of range",
    ),
    (&["up", "--concurrency", "0"], "", 2, "--concurrency"),
    (
        &["enqueue", "noop", "--countdown", "99999999999y"],
        "",
        2,
        "--countdown",
    ),
    (
        &["enqueue", "noop", "--countdown", "400days"],
        "",
        2,
        "--countdown: 400d is out of range: use 0s to 366d",
    ),
    (
        &["enqueue", "noop", "--wait", "--timeout", "99999999999y"],
        "",
        2,
        "--timeout",
    ),
    (
        &["enqueue", "noop", "--wait", "--timeout", "0s"],
        "",
        2,
        "--timeout: 0s is out of range",
    ),
    (
        &["enqueue", "noop", "--count", "0"],
        "",
        2,
        "--count: 0 is out of range",
    ),
    (
        &["status", "--watch", "1s"],
        "",
        2,
        "--watch: stdout is not a terminal; add --count N",
    ),
    (
        &["status", "--watch", "0", "--count", "3"],
        "",
        2,
        "--watch: 0s is out of range",
    ),
    (
        &["status", "--watch", "100ms", "--count", "3"],
        "",
        2,
        "--watch: 100ms is out of range",
    ),
    (&["depth"], "[queues]\n", 2, "[queues] is empty"),
    (
        &["depth"],
        "[tasks.x]\nrunner = { exec = [] }\n",
        2,
        "tasks.x.runner.exec: exec = [] runs nothing",
    ),
    (
        &["depth"],
        "[platform]\nmode = \"sometimes\"\n",
        2,
        "platform.mode: unknown variant `sometimes`",
    ),
    (
        &["depth"],
        "[tasks.x]\nrunner = { exec = [\"echo\", \"{id\"] }\n",
        2,
        "unclosed '{'",
    ),
    (
        &["depth"],
        "[tasks.x]\nunique = \"x:{test_id\"\nrunner = { exec = [\"true\"] }\n",
        2,
        "tasks.x.unique: template \"x:{test_id\": unclosed '{'",
    ),
    (
        &["depth"],
        "[tasks.x]\nqueue = \"nobody\"\nrunner = { exec = [\"true\"] }\n",
        2,
        "tasks.x.queue: queue \"nobody\" is not in [queues]",
    ),
    (
        &["depth"],
        "[queues]\ndefault = 1\n",
        2,
        "tasks.maintain.queue: queue \"maintenance\" is not in [queues]",
    ),
    (
        &["depth"],
        "[schedule.s]\ntask = \"noop\"\nevery = \"1m\"\nqueue = \"elsewhere\"\n",
        2,
        "schedule.s.queue",
    ),
    (
        &["depth"],
        "[worker]\nconcurrency = 0\n",
        2,
        "worker.concurrency",
    ),
    (&["depth"], "[worker]\nsweep = \"0s\"\n", 2, "worker.sweep"),
    (
        &["beat", "--tick", "1ns"],
        "",
        2,
        "tick (1ns) must be at least 50ms",
    ),
    (
        &["beat", "--lease", "1000d", "--tick", "1s"],
        "",
        2,
        "lease: 1000d is out of range",
    ),
    (&["pause", "nosuch"], "", 2, "unknown queue \"nosuch\""),
    (&["resume", "nosuch"], "", 2, "unknown queue \"nosuch\""),
    (
        &["purge", "nosuch", "--yes"],
        "",
        2,
        "unknown queue \"nosuch\"",
    ),
];

#[test]
fn every_bad_value_is_one_line_and_its_exit_code_within_a_second() {
    let redis = Redis::start();
    let ciq = Ciq::new(&redis);
    for (args, toml, code, needle) in BAD_VALUES {
        ciq.config(toml);
        let t = Instant::now();
        let o = bounded(ciq.cmd(args), Duration::from_secs(5));
        let took = t.elapsed();
        assert!(took < Duration::from_secs(1), "{args:?} took {took:?}");
        assert_one_error(&o, *code, needle);
        assert!(stdout(&o).is_empty(), "{args:?}: {}", stdout(&o));
    }
    ciq.config("");
    // The bounded forms work: --watch with --count prints that many screens and stops.
    // No worker runs: the last screen reports CRITICAL, so the exit code is 9.
    let out = ciq.run(&["status", "--watch", "500ms", "--count", "2"]);
    assert_eq!(out.status.code(), Some(9), "{}", stderr(&out));
    assert_eq!(
        stdout(&out).matches("broker ").count(),
        2,
        "{}",
        stdout(&out)
    );
    // A known queue pauses and resumes (exit 0); a queue only Redis knows is known too.
    ciq.ok(&["pause", "default"]);
    ciq.ok(&["resume", "default"]);
    // "extra" was declared when its task went in; declared no longer, Redis still knows it.
    ciq.config("[queues]\ndefault = 1\ntest_execution = 1\nmaintenance = 1\nextra = 1\n");
    ciq.ok(&["enqueue", "noop", "--queue", "extra"]);
    ciq.config("");
    ciq.ok(&["pause", "extra"]);
}
