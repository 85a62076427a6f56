//! The queue's fault guarantees, each run twice: through the built-in `noop` and through
//! the `exec` runner production uses (a recording script). Runs are checked by task id.

mod leases;
mod redis;

use crate::harness::via::{counts, lines, Mode, Via};
use crate::harness::*;
use std::collections::HashSet;
use std::time::{Duration, Instant};

fn states(ciq: &Ciq) -> [u64; 5] {
    let d = ciq.depth("default");
    ["pending", "active", "scheduled", "retry", "dead"].map(|k| d[k].as_u64().unwrap_or(u64::MAX))
}

/// Ids of the envelopes in the pending list, front (next out) first.
fn pending_ids(redis: &Redis) -> Vec<String> {
    let mut ids: Vec<String> = redis
        .cli(&["LRANGE", &keys::q("default").pending, "0", "-1"])
        .lines()
        .filter(|l| !l.is_empty())
        .map(|l| {
            serde_json::from_str::<serde_json::Value>(l).expect("envelope")["id"]
                .as_str()
                .expect("id")
                .to_string()
        })
        .collect();
    ids.reverse();
    ids
}

/// Ids of the tasks leased to the worker named `name` (`ciq:{Q}:active` is
/// `id -> worker|token|claimed_ms|envelope`, the worker id being `name@host:pid:tag`).
fn held_by(redis: &Redis, name: &str) -> Vec<String> {
    let out = redis.cli(&["HGETALL", &keys::q("default").active]);
    let l: Vec<&str> = out.lines().collect();
    let owner = format!("{name}@");
    l.chunks(2)
        .filter(|kv| kv.len() == 2 && kv[1].starts_with(&owner))
        .map(|kv| kv[0].to_string())
        .collect()
}

fn wait_started(ciq: &Ciq, redis: &Redis, via: Via, id: &str) {
    assert!(
        wait_until(Duration::from_secs(10), || via
            .started(ciq, redis)
            .iter()
            .any(|s| s == id)
            || (via == Via::Noop && ciq.depth("default")["active"] == 1)),
        "task {id} never started"
    );
}

fn kill_9_mid_task(via: Via) {
    let redis = Redis::start();
    let ciq = Ciq::new(&redis);
    via.config(&ciq, "", "");
    let mut a = ciq.spawn_worker("a", &["--concurrency", "1"]);
    let id = via.enqueue(&ciq, 1500, Mode::Ok);
    assert!(
        wait_until(Duration::from_secs(10), || held_by(&redis, "a")
            == [id.clone()]),
        "worker a runs the task"
    );
    wait_started(&ciq, &redis, via, &id);
    sigkill(&mut a);
    let t0 = Instant::now();
    let _b = ciq.spawn_worker("b", &[]);
    assert!(
        wait_until(Duration::from_secs(30), || redis.stat("default", "done")
            == 1),
        "the task completes on another worker; log: {}",
        ciq.log("b")
    );
    assert!(t0.elapsed() < Duration::from_secs(30));
    assert_eq!(states(&ciq), [0, 0, 0, 0, 0]);
    match via {
        // noop records at its end: the killed run never got there.
        Via::Noop => assert_eq!(via.finished(&ciq, &redis), vec![id.clone()]),
        // The script recorded both starts, in two different processes.
        Via::Exec => {
            let starts = lines(&ciq, "starts");
            assert_eq!(starts.len(), 2, "{starts:?}");
            assert!(starts.iter().all(|r| r.id == id));
            assert_ne!(starts[0].pid, starts[1].pid);
        }
    }
}
via_both!(
    kill_9_mid_task_runs_again_on_another_worker,
    super::kill_9_mid_task
);

/// At the shipped defaults (20 s lease, 5 s sweep, no fast knobs) a task of a `kill -9`ed
/// worker runs again on another worker within 30 s, as the README promises, and completes.
#[test]
fn kill_9_recovery_at_shipped_defaults_is_within_30s() {
    let redis = Redis::start();
    let ciq = Ciq::new(&redis);
    let via = Via::Exec;
    via.config(&ciq, "", "");
    let mut a = ciq.spawn_worker_at_defaults("a", &["--concurrency", "1"]);
    let id = via.enqueue(&ciq, 2000, Mode::Ok);
    wait_started(&ciq, &redis, via, &id);
    sigkill(&mut a);
    let t0 = Instant::now();
    let _b = ciq.spawn_worker_at_defaults("b", &[]);
    // "Runs again on another worker": the recording script's second start.
    let rerun = wait_until(Duration::from_secs(35), || lines(&ciq, "starts").len() >= 2);
    let took = t0.elapsed();
    assert!(rerun, "not run again after 35 s; log: {}", ciq.log("b"));
    assert!(
        took <= Duration::from_secs(30),
        "recovery took {took:?} at the defaults"
    );
    // It waited for the lease: a recovery much faster than 20 s means the defaults were not used.
    assert!(took >= Duration::from_secs(10), "recovered in {took:?}");
    eprintln!("kill -9 recovery at the shipped defaults: {took:?}");
    assert!(
        wait_until(Duration::from_secs(10), || redis.stat("default", "done")
            == 1),
        "and it completes"
    );
    assert_eq!(states(&ciq), [0, 0, 0, 0, 0]);
    let starts = lines(&ciq, "starts");
    assert_eq!(starts.len(), 2, "{starts:?}");
}

/// Configures `via` on `ciq` and enqueues `n` short tasks in one `--count` call (the noop
/// ones sleep 2 ms); returns the ids now pending.
fn configure_and_enqueue_many(ciq: &Ciq, redis: &Redis, via: Via, n: usize) -> HashSet<String> {
    via.config(ciq, "", "");
    let args = via.args(if via == Via::Noop { 2 } else { 0 }, Mode::Ok);
    ciq.ok(&[
        "enqueue",
        via.task(),
        "--count",
        &n.to_string(),
        "--args-json",
        &args,
    ]);
    pending_ids(redis).into_iter().collect()
}

/// 10,000 tasks, 2 workers of 8 killed and restarted in turn every 0.7 s, at the default
/// retry limits (3 retries, 20 deliveries). Every task completes, nothing goes dead, and
/// the only ids that ran more than once were leased to a worker when it was killed.
fn kill_loop(via: Via) {
    let redis = Redis::start();
    let ciq = Ciq::new(&redis);
    let n = 10_000;
    let all = configure_and_enqueue_many(&ciq, &redis, via, n);
    assert_eq!(all.len(), n);
    // A 5 s lease: a live worker on a loaded machine never loses its lease, so every
    // repeat comes from a kill.
    let knobs = ["--concurrency", "8", "--lease", "5s", "--heartbeat", "1s"];
    let mut names = ["w0".to_string(), "w1".to_string()];
    let mut workers = vec![
        ciq.spawn_worker("w0", &knobs),
        ciq.spawn_worker("w1", &knobs),
    ];
    let mut in_flight: HashSet<String> = HashSet::new();
    let mut kills = 0;
    let deadline = Instant::now() + Duration::from_secs(240);
    while redis.int(&["LLEN", &keys::q("default").pending]) > 0 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(700));
        let k = kills % 2;
        sigkill(&mut workers[k]);
        // Dead now: what it held stays leased to it until a sweeper recovers it.
        in_flight.extend(held_by(&redis, &names[k]));
        kills += 1;
        names[k] = format!("w{k}-{kills}");
        workers[k] = ciq.spawn_worker(&names[k], &knobs);
    }
    let drained = wait_until(Duration::from_secs(120), || {
        redis.int(&["LLEN", &keys::q("default").pending]) == 0
            && redis.int(&["HLEN", &keys::q("default").active]) == 0
            && redis.int(&["ZCARD", &keys::q("default").retry]) == 0
    });
    for w in &mut workers {
        sigkill(w);
    }
    let finished = counts(&via.finished(&ciq, &redis));
    let started = counts(&via.started(&ciq, &redis));
    let d = ciq.depth("default");
    assert!(
        drained,
        "drained: {} of {n} finished after {kills} kills; {d}",
        finished.len()
    );
    assert_eq!(
        d["dead"].as_u64(),
        Some(0),
        "nothing dead at the defaults: {d}"
    );
    let missing: Vec<&String> = all
        .iter()
        .filter(|id| !finished.contains_key(*id))
        .collect();
    assert!(
        missing.is_empty(),
        "{} never finished: {:?}",
        missing.len(),
        &missing[..missing.len().min(5)]
    );
    assert!(
        started.keys().all(|id| all.contains(id)),
        "only enqueued ids ran"
    );
    let repeated: Vec<&String> = started
        .iter()
        .filter(|(_, &c)| c > 1)
        .map(|(id, _)| id)
        .collect();
    let strays: Vec<&&String> = repeated
        .iter()
        .filter(|id| !in_flight.contains(**id))
        .collect();
    assert!(
        strays.is_empty(),
        "{} ids ran twice without being in flight at a kill: {:?}",
        strays.len(),
        &strays[..strays.len().min(5)]
    );
    assert!(kills >= 3, "the loop killed workers: {kills}");
    eprintln!(
        "{via:?}: {n} tasks, {kills} kills, {} ids in flight at a kill, {} ran more than once",
        in_flight.len(),
        repeated.len()
    );
}
via_both!(
    ten_thousand_tasks_survive_workers_killed_and_restarted,
    super::kill_loop
);

fn redis_restart(via: Via) {
    let mut redis = Redis::start_aof();
    let ciq = Ciq::new(&redis);
    let n = 3000;
    let all = configure_and_enqueue_many(&ciq, &redis, via, n);
    let mut w = ciq.spawn_worker("w", &["--concurrency", "4"]);
    assert!(wait_until(Duration::from_secs(30), || via
        .finished_count(&ciq, &redis)
        > 200));
    redis.restart();
    // 3,000 exec runs at concurrency 4, each with its fencing supervisor: time enough on
    // a loaded 2-core machine.
    let ok = wait_until(Duration::from_secs(180), || {
        via.finished_count(&ciq, &redis) >= n && states(&ciq)[..4] == [0, 0, 0, 0]
    });
    let finished = counts(&via.finished(&ciq, &redis));
    assert!(
        w.stop(Duration::from_secs(10)).is_some(),
        "worker still stops cleanly"
    );
    let missing = all.iter().filter(|id| !finished.contains_key(*id)).count();
    assert!(
        ok && missing == 0,
        "all tasks ran after the restart: {missing} of {n} missing; log: {}",
        ciq.log("w")
    );
    assert_eq!(ciq.depth("default")["dead"].as_u64(), Some(0));
    let log = ciq.log("w");
    assert!(
        log.contains("retrying") || log.contains("failed"),
        "the outage was logged"
    );
}
via_both!(redis_restart_mid_drain_loses_nothing, super::redis_restart);

/// A worker "w" (with `worker_args`) and one task of `sleep_ms` it has started; returns
/// (redis, ciq, worker, task id).
fn a_worker_running_one_task(
    via: Via,
    worker_args: &[&str],
    sleep_ms: u64,
) -> (Redis, Ciq, Proc, String) {
    let redis = Redis::start();
    let ciq = Ciq::new(&redis);
    via.config(&ciq, "", "");
    let w = ciq.spawn_worker("w", worker_args);
    let id = via.enqueue(&ciq, sleep_ms, Mode::Ok);
    wait_started(&ciq, &redis, via, &id);
    (redis, ciq, w, id)
}

fn sigterm_lets_a_long_task_finish(via: Via) {
    let (redis, ciq, mut w, id) = a_worker_running_one_task(via, &[], 1500);
    let st = w.stop(Duration::from_secs(10)).expect("stops");
    assert!(st.success(), "{st}");
    assert_eq!(via.finished(&ciq, &redis), vec![id], "finished before exit");
    assert_eq!(
        redis.stat("default", "done"),
        1,
        "and its outcome was recorded"
    );
    assert_eq!(states(&ciq), [0, 0, 0, 0, 0]);
}
via_both!(
    sigterm_lets_a_long_task_finish,
    super::sigterm_lets_a_long_task_finish
);

/// Past `--shutdown-timeout` the running task goes back to the *front* of pending, ahead
/// of tasks that were waiting, and the next worker runs it first.
fn sigterm_past_the_timeout(via: Via) {
    let (redis, ciq, mut w, long) = a_worker_running_one_task(
        via,
        &["--shutdown-timeout", "300ms", "--concurrency", "1"],
        20_000,
    );
    let b = via.enqueue(&ciq, 0, Mode::Ok);
    let c = via.enqueue(&ciq, 0, Mode::Ok);
    assert_eq!(pending_ids(&redis), vec![b.clone(), c.clone()]);
    let st = w
        .stop(Duration::from_secs(5))
        .expect("stops after the shutdown timeout");
    assert!(st.success());
    assert_eq!(
        pending_ids(&redis),
        vec![long.clone(), b.clone(), c.clone()],
        "the interrupted task is next out"
    );
    assert_eq!(via.finished(&ciq, &redis), Vec::<String>::new());
    let _w2 = ciq.spawn_worker("w2", &["--concurrency", "1"]);
    assert!(
        wait_until(Duration::from_secs(10), || held_by(&redis, "w2")
            == [long.clone()]),
        "the next worker takes the interrupted task first: {:?}",
        pending_ids(&redis)
    );
    assert_eq!(pending_ids(&redis), vec![b, c]);
}
via_both!(
    sigterm_past_the_timeout_returns_the_task_to_the_front_of_pending,
    super::sigterm_past_the_timeout
);

fn second_signal(via: Via) {
    let (redis, ciq, mut w, id) =
        a_worker_running_one_task(via, &["--shutdown-timeout", "60s"], 20_000);
    sigterm(&w);
    std::thread::sleep(Duration::from_millis(200));
    sigterm(&w);
    let st = wait_exit(&mut w, Duration::from_secs(5)).expect("a second signal stops at once");
    assert!(st.success(), "{st}");
    assert_eq!(pending_ids(&redis), vec![id]);
    assert_eq!(states(&ciq), [1, 0, 0, 0, 0]);
}
via_both!(second_signal_returns_tasks_at_once, super::second_signal);
