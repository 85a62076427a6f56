//! 200 pending tests, 2 workers, discovery every second (`ciq beat`) and the same tests
//! enqueued by hand: each test is claimed once and its runner called once. Five tests already
//! claimed by "the old cron job" (their gcp_instance rows exist) are never run.

use super::db::{Backend, Bind};
use super::{on_all_backends, Env};
use crate::harness::{wait_until, Proc};
use std::collections::BTreeMap;
use std::time::{Duration, Instant};

fn run(b: Backend) {
    let mut env = Env::new(b);
    env.db.add_tests(1, 100, "linux");
    env.db.add_tests(101, 100, "windows");
    env.db.add_tests(201, 5, "linux");
    for id in 201..206 {
        env.db.exec(
            "INSERT INTO gcp_instance (name, test_id, timestamp) VALUES (?, ?, ?)",
            &[
                Bind::S(format!("linux-{id}")),
                Bind::I(id),
                Bind::T(chrono::Local::now().naive_local()),
            ],
        );
    }
    let started = env.path("started.txt").display().to_string();
    let script = env.script(
        "start.sh",
        &format!("sleep 0.05\necho \"$1 $CIQ_TASK_ID\" >> {started}"),
    );
    env.config(&format!(
        "[platform]\nstart_vm = {{ exec = [\"sh\", \"{script}\", \"{{test_id}}\"] }}\n\n[schedule.process_pending_tests]\nevery = \"1s\"\n"
    ));
    env.worker("w1");
    env.worker("w2");

    let t0 = Instant::now();
    let beat = env
        .ciq
        .cmd(&["beat", "--name", "b1"])
        .stdout(std::process::Stdio::null())
        .stderr(std::fs::File::create(env.path("w3.log")).expect("beat log"))
        .spawn()
        .expect("spawn beat");
    env.workers.push(Proc(beat));
    for id in (1..=205).rev() {
        env.ciq
            .ok(&["enqueue", "start_test", "--arg", &format!("test_id={id}")]);
    }
    let all = wait_until(Duration::from_secs(60), || {
        env.lines("started.txt").len() >= 200
    });
    let took = t0.elapsed();
    // One more discovery tick after everything started must find nothing to do.
    env.ciq.ok(&[
        "enqueue",
        "process_pending_tests",
        "--wait",
        "--timeout",
        "20s",
    ]);
    std::thread::sleep(Duration::from_millis(500));

    let lines = env.lines("started.txt");
    assert!(
        all,
        "only {} of 200 tests started in 60 s; logs:\n{}",
        lines.len(),
        env.logs()
    );
    let mut runs: BTreeMap<i32, usize> = BTreeMap::new();
    for l in &lines {
        let id: i32 = l
            .split_whitespace()
            .next()
            .and_then(|s| s.parse().ok())
            .expect("test id");
        *runs.entry(id).or_default() += 1;
    }
    let twice: Vec<_> = runs.iter().filter(|(_, n)| **n > 1).collect();
    assert!(twice.is_empty(), "started more than once: {twice:?}");
    assert_eq!(runs.len(), 200, "every test started");
    assert!(
        runs.keys().all(|id| *id <= 200),
        "pre-claimed tests are never run"
    );
    let inst = env.db.instances();
    assert_eq!(inst.len(), 205, "one instance row per test");
    assert!(inst.contains(&"windows-150".to_string()) && inst.contains(&"linux-7".to_string()));
    let canceled = env.db.strings("SELECT status FROM test_progress");
    assert!(canceled.is_empty(), "no progress rows: {canceled:?}");
    eprintln!("{b:?}: 200 tests started exactly once in {took:?}");
}

on_all_backends!(exactly_once, super::run);
