//! ciq itself against the real platform: two workers and the platform's own cron (through
//! `ciq cron-guard`) racing on the same tests, a rollback with a start in flight, a
//! deferral that uses no attempt, the shadow stage, and the guard's stage-2 decisions.

use super::queue::{
    queue, queue_a_start_of_a_building_artifact, set_flag, stop_during_a_held_start, DeferredStart,
    Queue,
};
use super::*;
use crate::harness::{
    assert_platform_check_warns, keys, sigkill, sigterm, wait_exit, wait_until, Proc,
};
use std::time::Duration;

#[test]
fn stage_2_race_the_cron_and_two_workers_start_each_of_50_tests_once() {
    let p = RealPlatform::new();
    let ids = p.add_tests(50, "linux", "commit");
    set_flag(&p, true);
    let mut q = queue(&p, "");
    q.worker("w1", &["--concurrency", "2"]);
    q.worker("w2", &["--concurrency", "2"]);
    // Discovery queues all 50 while the platform's own cron runs through the guard.
    q.ciq.ok(&["enqueue", "process_pending_tests"]);
    let cron = q
        .guard_cmd(&p, &["--always"])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn cron-guard");
    let all = wait_until(Duration::from_secs(300), || p.gcp_instances().len() == 50);
    let out = cron.wait_with_output().expect("cron-guard ends");
    assert!(
        all,
        "started {} of 50; guard: {}\n{}",
        p.gcp_instances().len(),
        q.guard_log(),
        q.logs()
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(q.guard_log().contains("run: --always"), "{}", q.guard_log());
    let creates = p.vm_creates();
    let mut unique = creates.clone();
    unique.sort();
    unique.dedup();
    assert_eq!(creates.len(), 50, "one VM create per test: {creates:?}");
    assert_eq!(unique.len(), 50);
    for id in &ids {
        assert!(p.progress(*id).is_empty(), "test {id} was not canceled");
    }
    // Every start_test task settled (started by ciq, or already started by the cron).
    let left = || {
        ["LLEN pending", "ZCARD retry", "HLEN active"]
            .iter()
            .map(|c| {
                let (cmd, k) = c.split_once(' ').unwrap();
                q.redis.int(&[cmd, &format!("ciq:{{test_execution}}:{k}")])
            })
            .sum::<i64>()
    };
    assert!(
        wait_until(Duration::from_secs(600), || left() == 0),
        "{} start_test tasks unsettled; {}",
        left(),
        q.logs()
    );
    assert_eq!(
        q.redis.int(&["ZCARD", &keys::q("test_execution").dead]),
        0,
        "{}",
        q.logs()
    );
    let by_ciq = q.logs().matches("result=\"started").count();
    eprintln!("stage-2 race: 50 tests, 50 VM creates; ciq started {by_ciq}, the cron the rest");
}

/// A stop (the rollback stops the worker with SIGTERM) lets a platform start finish past
/// the worker's shutdown timeout, saying what it waits for: the VM and its `gcp_instance`
/// row are both made, and the cron that runs next starts nothing again.
#[test]
fn a_stop_lets_a_start_in_flight_finish_past_the_shutdown_timeout() {
    let p = RealPlatform::new();
    let (mut q, mut w, id, vm) = stop_during_a_held_start(&p);
    assert!(
        w.try_wait().unwrap().is_none(),
        "the worker waits past its 1 s timeout"
    );
    p.knob("verify_hold", json!(false));
    let st = wait_exit(&mut w, Duration::from_secs(90));
    assert!(
        st.is_some_and(|s| s.success()),
        "{st:?}; {}",
        q.ciq.log("w1")
    );
    assert_eq!(
        p.gcp_instances(),
        vec![(vm.clone(), Some(id))],
        "the start finished"
    );
    assert_eq!(
        q.redis.int(&["LLEN", &keys::q("test_execution").pending]),
        0
    );
    // Back at stage 0 the cron runs alone: the test is started, nothing is redone.
    set_flag(&p, false);
    p.run_cron();
    assert_eq!(p.gcp_instances(), vec![(vm.clone(), Some(id))]);
    assert_eq!(p.vm_creates(), vec![vm.clone()], "one VM create in all");
    assert_eq!(p.vms(), vec![vm]);
    q.workers.clear();
}

/// A second signal cuts a start in flight: the task goes back to the queue and the
/// bridge is stopped; nothing is in the platform's tables, and the cron's orphan scan
/// removes the half-made VM and starts the test, leaving exactly one VM.
#[test]
fn a_second_signal_cuts_a_start_and_the_cron_leaves_exactly_one_vm() {
    let p = RealPlatform::new();
    let (mut q, mut w, id, vm) = stop_during_a_held_start(&p);
    sigterm(&w);
    assert!(wait_exit(&mut w, Duration::from_secs(30)).is_some());
    assert_eq!(
        q.redis.int(&["LLEN", &keys::q("test_execution").pending]),
        1
    );
    assert!(
        p.gcp_instances().is_empty(),
        "nothing in the platform's tables"
    );
    assert!(p.progress(id).is_empty());
    p.knob("verify_hold", json!(false));
    set_flag(&p, false);
    p.run_cron();
    assert_eq!(p.gcp_instances(), vec![(vm.clone(), Some(id))]);
    assert!(p.progress(id).is_empty(), "not canceled");
    assert_eq!(p.vms(), vec![vm]);
    q.workers.clear();
}

#[test]
fn an_artifact_not_built_is_deferred_without_using_an_attempt_then_started() {
    let p = RealPlatform::new();
    let DeferredStart { q, id, commit, .. } = queue_a_start_of_a_building_artifact(&p);
    let stats = |f: &str| q.stats(f);
    assert!(
        wait_until(Duration::from_secs(90), || stats("deferred") >= 2),
        "deferred twice; {}",
        q.ciq.log("w1")
    );
    assert_eq!(stats("retried"), 0, "a deferral is not a failed attempt");
    assert!(p.progress(id).is_empty(), "not canceled");
    // Caught between two runs, the stored message still says attempt 1.
    let mut env = Value::Null;
    assert!(wait_until(Duration::from_secs(60), || {
        let ids = q
            .redis
            .cli(&["ZRANGE", &keys::q("test_execution").retry, "0", "-1"]);
        let Some(id) = ids.lines().next().filter(|l| !l.is_empty()) else {
            return false;
        };
        let raw = q.redis.cli(&["HGET", &keys::q("test_execution").data, id]);
        env = serde_json::from_str(&raw).unwrap_or(Value::Null);
        !env.is_null()
    }));
    assert_eq!(env["attempt"], 1, "{env}");
    assert!(env["deferrals"].as_u64().unwrap_or(0) >= 1, "{env}");
    assert!(
        env["last_error"]
            .as_str()
            .unwrap_or("")
            .contains("artifact_not_ready"),
        "{env}"
    );
    p.artifact(&commit, "ready");
    assert!(
        wait_until(Duration::from_secs(60), || p.gcp_instances().len() == 1),
        "{}",
        q.ciq.log("w1")
    );
    assert_eq!(p.vm_creates(), vec![format!("linux-{id}")]);
    assert!(wait_until(Duration::from_secs(10), || stats("done") == 1));
    assert_eq!(stats("retried"), 0);
}

/// A deferred start comes back soon (first retry within ~15 s, then growing), and
/// discovery brings it forward: once the artifact appears, the next discovery tick starts
/// the test at once instead of after the deferral's wait.
#[test]
fn a_deferred_start_retries_soon_and_discovery_brings_it_forward() {
    let p = RealPlatform::new();
    let DeferredStart {
        q,
        id,
        commit,
        task,
        enqueued_at: t0,
    } = queue_a_start_of_a_building_artifact(&p);
    let stats = |f: &str| q.stats(f);
    assert!(
        wait_until(Duration::from_secs(40), || stats("deferred") >= 2),
        "deferred twice; {}",
        q.ciq.log("w1")
    );
    assert!(
        t0.elapsed() < Duration::from_secs(30),
        "the first deferral came back within ~15 s ({:?})",
        t0.elapsed()
    );
    // Now waiting 20 s; the artifact appears and discovery runs.
    p.artifact(&commit, "ready");
    let found = std::time::Instant::now();
    q.discover();
    assert!(
        wait_until(Duration::from_secs(15), || p.gcp_instances().len() == 1),
        "{}",
        q.ciq.log("w1")
    );
    assert!(
        found.elapsed() < Duration::from_secs(15),
        "started {:?} after the artifact appeared",
        found.elapsed()
    );
    let hist = q.ciq.ok(&["inspect", "task", &task]);
    assert!(hist.contains("brought_forward"), "{hist}");
    assert_eq!(stats("retried"), 0);
    assert_eq!(p.vm_creates(), vec![format!("linux-{id}")]);
}

#[test]
fn shadow_stage_starts_nothing_and_records_what_the_cron_started() {
    let p = RealPlatform::new();
    p.add_tests(3, "linux", "commit");
    set_flag(&p, false);
    let mut q = queue(&p, "");
    q.worker("w1", &[]);
    let tick = || q.discover();
    assert!(tick().contains("shadow: pending 3"), "flag off: shadow");
    // A webhook start while the flag is off does nothing either.
    let o = q.ciq.run(&[
        "enqueue",
        "start_test",
        "--arg",
        "test_id=1",
        "--wait",
        "--timeout",
        "60s",
    ]);
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("shadow mode"),
        "{o:?}"
    );
    assert!(p.vm_creates().is_empty(), "ciq created no VM");
    // The cron runs (the guard lets it: the flag is off) and starts the three tests.
    std::thread::sleep(Duration::from_millis(1100));
    let st = q.guard_cmd(&p, &[]).status().unwrap();
    assert!(st.success());
    assert!(
        q.guard_log().contains("run: the platform's flag is off"),
        "{}",
        q.guard_log()
    );
    assert_eq!(p.vm_creates().len(), 3);
    tick();
    let v: Value = serde_json::from_str(&q.ciq.status_json()).unwrap();
    let s = &v["platform"];
    assert_eq!(s["mode"], "shadow", "{v}");
    assert_eq!(s["shadow"]["started"], 3, "{v}");
    assert_eq!(s["shadow"]["seen_before"], 3, "{v}");
    assert_eq!(s["shadow"]["missed"], json!([]), "{v}");
    assert_eq!(
        q.redis
            .int(&["HGET", &keys::q("test_execution").stats, "done:start_test"]),
        1,
        "only the shadow no-op start ran"
    );
}

#[test]
fn the_guard_skips_the_cron_while_the_queue_is_healthy_and_runs_it_when_not() {
    let p = RealPlatform::new();
    set_flag(&p, true);
    let mut q = queue(&p, "[schedule.process_pending_tests]\nevery = \"1s\"\n");
    q.worker("w1", &[]);
    let mut beat = Proc(
        q.ciq
            .cmd(&["beat", "--name", "b1", "--lease", "2s", "--tick", "200ms"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    // Once the worker and the beat are up, the guard skips the cron.
    assert!(
        wait_until(Duration::from_secs(30), || {
            q.guard_cmd(&p, &[]).status().unwrap().success()
                && q.guard_log().contains("skip: queue healthy")
        }),
        "{}",
        q.guard_log()
    );
    std::fs::remove_file(q.ciq.dir().join("guard.log")).unwrap();
    let runs = || p.platform_log().matches("Run the cron").count();
    let before = runs();
    assert!(q.guard_cmd(&p, &[]).status().unwrap().success());
    assert!(
        q.guard_log().starts_with(&q.guard_log()[..20])
            && q.guard_log()
                .contains(" skip: queue healthy (worker alive: w1@"),
        "{}",
        q.guard_log()
    );
    assert_eq!(runs(), before, "the cron did not run");
    // No worker: the cron is the fallback.
    for w in &mut q.workers {
        sigkill(w);
    }
    sigkill(&mut beat);
    q.redis.cli(&["DEL", &keys::beat_leader()]);
    std::thread::sleep(Duration::from_millis(200));
    let o = q.guard_cmd(&p, &[]).output().unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert!(
        q.guard_log().contains("run: queue unavailable"),
        "{}",
        q.guard_log()
    );
    let v: Value = serde_json::from_str(&q.ciq.status_json()).unwrap();
    assert_eq!(v["platform"]["cron_guard"]["action"], "run", "{v}");
}

/// ciq's discovery (its own SQL, through sqlx) next to the platform's own SQLAlchemy query
/// (`gcp_instance`'s, through the bridge's `pending`) on the same database, seeded with
/// every edge case: they agree; where the platform's NOT IN is plainly wrong (a
/// `gcp_instance` row with a NULL test_id hides every test) ciq does the sane thing and
/// `platform check` warns.
#[test]
fn discovery_equals_the_platforms_own_query_on_every_edge_case() {
    let p = RealPlatform::new();
    let (l, w) = p.seed_edge_cases();
    set_flag(&p, false);
    let mut q = queue(&p, "");
    q.worker("w1", &["--queues", "default"]);
    // ciq's discovery in shadow mode: what it saw pending (first_seen), per platform not
    // in maintenance.
    let discover = |q: &Queue| -> Vec<i64> {
        q.discover();
        let mut ids: Vec<i64> = q
            .redis
            .cli(&["HKEYS", &keys::platform_first_seen()])
            .lines()
            .filter_map(|l| l.trim().parse().ok())
            .collect();
        ids.sort();
        ids
    };
    let platform = |pending: &Value| -> Vec<i64> {
        let mut ids = vec![];
        for plat in ["linux", "windows"] {
            if pending[plat]["maintenance"] == json!(false) {
                ids.extend(
                    pending[plat]["pending"]
                        .as_array()
                        .unwrap()
                        .iter()
                        .filter_map(|v| v.as_i64()),
                );
            }
        }
        ids.sort();
        ids
    };
    let theirs = platform(&p.pending());
    assert_eq!(theirs, vec![l[2], l[4], l[5]], "the platform's own query");
    assert_eq!(discover(&q), theirs, "ciq's discovery agrees");
    // Windows out of maintenance (its first row): both now see its tests.
    p.strings(
        "UPDATE maintenance_mode SET disabled = 0 WHERE id = (SELECT id FROM (SELECT MIN(id) AS id FROM maintenance_mode WHERE platform = 'windows') x)",
    );
    let theirs = platform(&p.pending());
    assert_eq!(theirs, vec![l[2], l[4], l[5], w[0], w[1]]);
    assert_eq!(discover(&q), theirs);
    // A gcp_instance row with a NULL test_id: the platform's NOT IN returns nothing at
    // all (its cron would start nothing); ciq keeps discovering and check warns.
    p.seed(json!({"instances": [{"name": "linux-orphan", "test_id": null}]}));
    assert_eq!(
        platform(&p.pending()),
        Vec::<i64>::new(),
        "the platform's NOT IN"
    );
    assert_eq!(discover(&q), vec![l[2], l[4], l[5], w[0], w[1]]);
    assert_platform_check_warns(&q.ciq, "linux-orphan", &l[2].to_string());
}
