//! Lost replies (issue 10, point 10): an outcome write whose reply never arrived is
//! retried and recognised as already applied, not reported as a stolen task. (The script's
//! "already applied" answer itself is checked in
//! `a_superseded_run_of_the_same_worker_cannot_finish_the_next_run`.)

use crate::harness::*;
use std::collections::BTreeMap;
use std::time::Duration;

/// Runs per task id (the noop task's `record` list) beyond the first, summed.
fn extra_runs(redis: &Redis) -> usize {
    let mut per_task: BTreeMap<String, usize> = BTreeMap::new();
    for id in redis.cli(&["LRANGE", "ciq:bench:runs", "0", "-1"]).lines() {
        *per_task.entry(id.to_string()).or_default() += 1;
    }
    per_task.values().map(|c| c - 1).sum()
}

fn drain_setup(ciq: &Ciq, n: usize) {
    ciq.config("[tasks.noop]\nmax_retries = 100\n[worker]\nmax_deliveries = 200\n");
    enqueue_recorded(ciq, n);
}

/// `n` no-op tasks that record each run in `ciq:bench:runs`.
fn enqueue_recorded(ciq: &Ciq, n: usize) {
    ciq.enqueue_noops(n, r#"{"record": "ciq:bench:runs"}"#);
}

/// No run reported superseded unless a task really ran again, and never the old
/// "another worker recovered the task" for a lost reply.
fn assert_no_false_theft(redis: &Redis, logs: &str) -> (usize, usize) {
    let extra = extra_runs(redis);
    let superseded = logs.matches("outcome refused").count() + logs.matches("lease lost").count();
    assert!(!logs.contains("another worker recovered"), "{logs}");
    // A superseded run may be reported twice: by its heartbeat and by its outcome.
    assert!(
        superseded <= 2 * extra,
        "{superseded} runs reported superseded but only {extra} re-ran"
    );
    (extra, superseded)
}

/// Every client killed again and again for a few seconds while two workers drain;
/// repeated (up to three rounds) until the kills have cut at least one outcome write in
/// flight, so the test never passes without a lost reply to recover from.
#[test]
fn client_kill_loop_while_draining_reports_no_false_theft() {
    let redis = Redis::start();
    let ciq = Ciq::new(&redis);
    let n = 2000;
    drain_setup(&ciq, n);
    let mut ws = [
        ciq.spawn_worker("w1", &["--concurrency", "32"]),
        ciq.spawn_worker("w2", &["--concurrency", "32"]),
    ];
    let retried = |logs: &str| {
        // A write cut in flight: of outcomes alone, or of outcomes with the claim that
        // refills their slots (then recorded alone).
        logs.matches("cannot record task outcomes").count()
    };
    let mut total = n;
    let mut drained = false;
    for round in 0..3 {
        if round > 0 {
            enqueue_recorded(&ciq, n);
            total += n;
        }
        for _ in 0..60 {
            redis.cli(&["CLIENT", "KILL", "TYPE", "normal"]);
            std::thread::sleep(Duration::from_millis(50));
        }
        drained = wait_until(Duration::from_secs(60), || {
            redis.stat("default", "done") >= total as i64
        });
        if !drained || retried(&(ciq.log("w1") + &ciq.log("w2"))) > 0 {
            break;
        }
    }
    for w in ws.iter_mut() {
        assert!(w.stop(Duration::from_secs(15)).is_some());
    }
    let logs = ciq.log("w1") + &ciq.log("w2");
    assert!(drained, "drained: done {}", redis.stat("default", "done"));
    let (extra, superseded) = assert_no_false_theft(&redis, &logs);
    let retried = retried(&logs);
    eprintln!("{retried} retried outcome writes, {extra} extra runs, {superseded} superseded");
    assert!(
        retried > 0,
        "three rounds of kills cut no outcome write in flight"
    );
}
