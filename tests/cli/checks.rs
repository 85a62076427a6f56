//! What the command line gets checked for (issue 19): a queue name that is not declared
//! is refused by every command that takes one, as the config file refuses it; a task's
//! declared argument type is enforced when it is queued; a Redis error is one line with a
//! documented exit code; every bad value or input is one line and its exit code.

use crate::harness::*;
use std::time::{Duration, Instant};

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
    assert_eq!(redis.int(&["LLEN", &keys::q("test_execution").pending]), 0);
    ciq.ok(&["enqueue", "start_test", "--arg", "test_id=42"]);
    assert_eq!(redis.int(&["LLEN", &keys::q("test_execution").pending]), 1);
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
fn bad_input_gives_one_line_and_its_exit_code() {
    let redis = Redis::start();
    let ciq = Ciq::new(&redis);
    let check = |args: &[&str], code: i32, needle: &str| {
        let o = ciq.run(args);
        let err = String::from_utf8_lossy(&o.stderr).to_string();
        assert_eq!(o.status.code(), Some(code), "{args:?}: {err}");
        assert!(err.contains(needle), "{args:?}: {err}");
        assert!(!err.contains("panicked"), "{err}");
        assert!(err.lines().next().unwrap().starts_with("error: "), "{err}");
    };
    check(&["enqueue", "bogus"], 2, "unknown task \"bogus\"");
    check(
        &["enqueue", "noop", "--countdown", "3x"],
        2,
        "invalid duration",
    );
    check(
        &["enqueue", "noop", "--args-json", "{nope"],
        2,
        "not valid JSON",
    );
    check(
        &["--broker", "redis://127.0.0.1:1/0", "enqueue", "noop"],
        3,
        "cannot reach Redis",
    );
    check(
        &["--broker", "redis://127.0.0.1:1/0", "depth"],
        3,
        "cannot reach Redis",
    );
    ciq.config("[tasks.noop]\nbackoff = \"soon\"\n");
    check(
        &["depth"],
        2,
        "ciq.toml:2: tasks.noop.backoff: invalid duration",
    );
    ciq.config("[worker\n");
    check(&["depth"], 2, "ciq.toml:1");
}

/// (command line, split at spaces; text in the error line): with an empty ciq.toml each
/// exits 2.
const BAD_FLAGS: &[(&str, &str)] = &[
    ("work --heartbeat 0s", "--heartbeat: 0s is out of range"),
    ("work --sweep 0s", "--sweep: 0s is out of range"),
    ("work --lease 1000000h", "--lease"),
    ("work --concurrency 0", "--concurrency: 0 is out of range"),
    ("up --concurrency 0", "--concurrency"),
    ("enqueue noop --countdown 99999999999y", "--countdown"),
    (
        "enqueue noop --countdown 400days",
        "--countdown: 400d is out of range: use 0s to 366d",
    ),
    ("enqueue noop --wait --timeout 99999999999y", "--timeout"),
    (
        "enqueue noop --wait --timeout 0s",
        "--timeout: 0s is out of range",
    ),
    ("enqueue noop --count 0", "--count: 0 is out of range"),
    (
        "status --watch 1s",
        "--watch: stdout is not a terminal; add --count N",
    ),
    ("status --watch 0 --count 3", "--watch: 0s is out of range"),
    (
        "status --watch 100ms --count 3",
        "--watch: 100ms is out of range",
    ),
    ("beat --tick 1ns", "tick (1ns) must be at least 50ms"),
    (
        "beat --lease 1000d --tick 1s",
        "lease: 1000d is out of range",
    ),
    ("pause nosuch", "unknown queue \"nosuch\""),
    ("resume nosuch", "unknown queue \"nosuch\""),
    ("purge nosuch --yes", "unknown queue \"nosuch\""),
];

/// (ciq.toml, text in the error line): `ciq depth` exits 2.
const BAD_CONFIGS: &[(&str, &str)] = &[
    ("[queues]\n", "[queues] is empty"),
    (
        "[tasks.x]\nrunner = { exec = [] }\n",
        "tasks.x.runner.exec: exec = [] runs nothing",
    ),
    (
        "[platform]\nmode = \"sometimes\"\n",
        "platform.mode: unknown variant `sometimes`",
    ),
    (
        "[tasks.x]\nrunner = { exec = [\"echo\", \"{id\"] }\n",
        "unclosed '{'",
    ),
    (
        "[tasks.x]\nunique = \"x:{test_id\"\nrunner = { exec = [\"true\"] }\n",
        "tasks.x.unique: template \"x:{test_id\": unclosed '{'",
    ),
    (
        "[tasks.x]\nqueue = \"nobody\"\nrunner = { exec = [\"true\"] }\n",
        "tasks.x.queue: queue \"nobody\" is not in [queues]",
    ),
    (
        "[queues]\ndefault = 1\n",
        "tasks.maintain.queue: queue \"maintenance\" is not in [queues]",
    ),
    (
        "[schedule.s]\ntask = \"noop\"\nevery = \"1m\"\nqueue = \"elsewhere\"\n",
        "schedule.s.queue",
    ),
    ("[worker]\nconcurrency = 0\n", "worker.concurrency"),
    ("[worker]\nsweep = \"0s\"\n", "worker.sweep"),
];

#[test]
fn every_bad_value_is_one_line_and_its_exit_code_within_a_second() {
    let redis = Redis::start();
    let ciq = Ciq::new(&redis);
    let flags = BAD_FLAGS
        .iter()
        .map(|(line, needle)| (line.split(' ').collect::<Vec<_>>(), "", needle));
    let configs = BAD_CONFIGS
        .iter()
        .map(|(toml, needle)| (vec!["depth"], *toml, needle));
    for (args, toml, needle) in flags.chain(configs) {
        ciq.config(toml);
        let t = Instant::now();
        let o = bounded(ciq.cmd(&args), Duration::from_secs(5));
        let took = t.elapsed();
        assert!(took < Duration::from_secs(1), "{args:?} took {took:?}");
        assert_one_error(&o, 2, needle);
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
