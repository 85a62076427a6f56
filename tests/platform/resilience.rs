//! Failure modes around a start: the database unreachable from the worker (retried, the
//! worker keeps running) and a worker killed mid-start (the recovered task resumes its
//! own claim and starts the test; nobody else can).

use super::db::Backend;
use super::Env;
use crate::harness::{free_port, sigkill, wait_until, Ciq, Redis};
use std::time::Duration;

#[test]
fn unreachable_database_is_a_retry_not_a_crash() {
    let redis = Redis::start();
    let ciq = Ciq::new(&redis);
    ciq.config(&format!(
        "database = \"postgres://postgres@127.0.0.1:{}/none\"\n\n[tasks.start_test]\nmax_retries = 2\nbackoff = \"100ms\"\nbackoff_max = \"100ms\"\n\n[platform]\ndb_timeout = \"300ms\"\nstart_vm = {{ exec = [\"true\"] }}\n",
        free_port()
    ));
    let mut w = ciq.spawn_worker("w1", &[]);
    ciq.ok(&["enqueue", "start_test", "--arg", "test_id=5"]);
    let dead = wait_until(Duration::from_secs(20), || {
        redis.int(&["ZCARD", "ciq:{test_execution}:dead"]) == 1
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

#[test]
fn killed_worker_mid_start_is_resumed_by_the_recovered_task() {
    let mut env = Env::new(Backend::Sqlite);
    env.db.add_tests(1, 1, "linux");
    let dir = env.ciq.dir().display().to_string();
    // Begins, waits, then "creates the VM": a crash during the wait means no VM yet.
    let script = env.script(
        "start.sh",
        &format!(
            "echo $$ > {dir}/runner.pid\necho \"begin $CIQ_ATTEMPT\" >> {dir}/calls.txt\nsleep 3\necho \"$1\" >> {dir}/started.txt"
        ),
    );
    env.config(&format!(
        "[platform]\nstart_vm = {{ exec = [\"sh\", \"{script}\", \"{{vm_name}}\"] }}\n"
    ));
    env.worker("w1");
    env.ciq.ok(&["enqueue", "start_test", "--arg", "test_id=1"]);
    assert!(wait_until(Duration::from_secs(10), || env
        .lines("calls.txt")
        .len()
        == 1));
    assert_eq!(
        env.db.instances(),
        vec!["linux-1"],
        "claimed before the runner runs"
    );
    // The machine dies: the worker and its runner.
    sigkill(&mut env.workers[0]);
    let pid: i32 = std::fs::read_to_string(env.path("runner.pid"))
        .ok()
        .and_then(|s| s.trim().parse().ok())
        .expect("runner pid");
    unsafe {
        libc::kill(-pid, libc::SIGKILL);
    }
    // A hand enqueue while the claim is held by the dead task is a duplicate anyway.
    env.worker("w2");
    let ok = wait_until(Duration::from_secs(20), || {
        env.lines("started.txt").len() == 1
    });
    assert!(
        ok,
        "the recovered task resumed its claim; logs:\n{}",
        env.logs()
    );
    assert_eq!(
        env.lines("calls.txt").len(),
        2,
        "runner called again by the same task"
    );
    assert!(env.logs().contains("resuming this task's own claim"));
    assert!(env.db.progress(1).is_empty());
    assert_eq!(env.db.instances(), vec!["linux-1"]);
}
