//! Fencing and Redis time (issue 10, points 1, 2 and 10): every run of a task has its own
//! claim token, so a superseded run's outcome is refused and cannot free the unique key;
//! leases, sweeps and beat ticks follow Redis's clock, not a worker's; a lost reply is
//! not mistaken for a stolen task.

mod late_outcome;
mod lost_replies;

use crate::harness::*;
use ciq::broker::claim::Claim;
use ciq::broker::finish::{Applied, Finish, FinishKind};
use ciq::broker::{Broker, Envelope, QueueKeys};
use serde::Deserialize;
use std::collections::{BTreeMap, BTreeSet};
use std::process::Stdio;
use std::time::Duration;

/// History limits for direct `finish` calls: a day, 1000 tasks.
const HIST: ciq::broker::finish::HistoryLimits = ciq::broker::finish::HistoryLimits {
    retention_ms: 86_400_000,
    max: 1000,
};

/// A recording `exec` task: each run appends "start <task id> <pid>" and, after sleeping
/// (the first run of a task `first` seconds, later runs `later`), "end <task id> <pid>".
fn recorder(ciq: &Ciq, first: u32, later: u32) -> std::path::PathBuf {
    let runs = ciq.dir().join("runs");
    let script = ciq.dir().join("rec.sh");
    std::fs::write(
        &script,
        format!(
            "F={runs}\nif grep -q \"start $CIQ_TASK_ID \" \"$F\" 2>/dev/null; then s={later}; else s={first}; fi\n\
             echo \"start $CIQ_TASK_ID $$\" >> \"$F\"\nsleep $s\necho \"end $CIQ_TASK_ID $$\" >> \"$F\"\n",
            runs = runs.display()
        ),
    )
    .unwrap();
    ciq.config(&format!(
        "[tasks.rec]\nmax_retries = 3\nrunner = {{ exec = [\"sh\", \"{}\"] }}\n",
        script.display()
    ));
    runs
}

/// The pids of a task's runs, in start order.
fn run_pids(runs: &std::path::Path, id: &str) -> Vec<i32> {
    std::fs::read_to_string(runs)
        .unwrap_or_default()
        .lines()
        .filter_map(|l| {
            let w: Vec<&str> = l.split_whitespace().collect();
            (w.len() == 3 && w[0] == "start" && w[1] == id).then(|| w[2].parse().ok())?
        })
        .collect()
}

/// Whether a process (not a zombie) is alive.
pub(crate) fn process_alive(pid: i32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .map(|s| {
            !s.rsplit(')')
                .next()
                .unwrap_or("")
                .trim_start()
                .starts_with('Z')
        })
        .unwrap_or(false)
}

/// Lines of the recorder file that start with `what` ("start" or "end"), per task id.
fn runs_of(runs: &std::path::Path, what: &str) -> BTreeMap<String, usize> {
    let mut m = BTreeMap::new();
    for l in std::fs::read_to_string(runs).unwrap_or_default().lines() {
        let mut w = l.split_whitespace();
        if w.next() == Some(what) {
            *m.entry(w.next().unwrap_or("").to_string()).or_default() += 1;
        }
    }
    m
}

/// Runs a command under libfaketime with this offset (e.g. "+30s"), as `faketime -f` does
/// but without its forking wrapper, so signals reach ciq itself.
fn faketime(offset: &str) -> Vec<String> {
    let lib = ["/usr/lib", "/usr/lib64", "/usr/local/lib"]
        .iter()
        .flat_map(|d| {
            let sub = std::fs::read_dir(d)
                .into_iter()
                .flatten()
                .flatten()
                .map(|e| e.path());
            std::iter::once(std::path::PathBuf::from(d)).chain(sub)
        })
        .map(|d| d.join("faketime/libfaketime.so.1"))
        .find(|p| p.exists())
        .expect("libfaketime is missing: install faketime (./install.sh --test-deps does)");
    vec![
        "env".into(),
        format!("LD_PRELOAD={}", lib.display()),
        format!("FAKETIME={offset}"),
    ]
}

fn strs(v: &[String]) -> Vec<&str> {
    v.iter().map(String::as_str).collect()
}

fn redis_ms(redis: &Redis) -> u64 {
    let t: Vec<u64> = redis
        .cli(&["TIME"])
        .lines()
        .filter_map(|l| l.trim().parse().ok())
        .collect();
    t[0] * 1000 + t[1] / 1000
}

fn unique_holder(redis: &Redis, key: &str) -> String {
    redis
        .cli(&["GET", &keys::q("default").unique(key)])
        .trim()
        .to_string()
}

fn done(id: &str, token: u64) -> Finish {
    Finish {
        id: id.into(),
        token,
        kind: FinishKind::Done,
        envelope: String::new(),
        delay_ms: 0,
        unique_key: Some("u1".into()),
        task: "noop".into(),
        attempt: 1,
        marked_at: None,
    }
}

async fn claim_one(b: &Broker, q: &QueueKeys, worker: &str) -> (u64, String) {
    match b
        .claim(q, worker, 1, Duration::from_millis(300))
        .await
        .unwrap()
    {
        Claim::Tasks(mut v) if v.len() == 1 => v.pop().unwrap(),
        other => panic!("expected one claimed task, got {other:?}"),
    }
}

/// The broker contract, driven directly: the same worker id claims a task twice (its lease
/// expired in between); the first run can neither renew nor finish, the unique key stays
/// with the second run, and a repeated write of the second run's outcome is recognised.
#[test]
fn a_superseded_run_of_the_same_worker_cannot_finish_the_next_run() {
    let redis = Redis::start();
    block_on(async {
        let b = Broker::connect(&redis.url()).await.unwrap();
        let q = QueueKeys::new("default");
        let mut env = Envelope::new("noop", "default", Default::default(), 5);
        env.unique_key = Some("u1".into());
        b.enqueue(&env, None).await.unwrap();
        let (t1, _) = claim_one(&b, &q, "W").await;
        // Not expired yet by Redis's clock: nothing to sweep.
        assert_eq!(
            b.sweep(&q, 10, std::time::Duration::ZERO).await.unwrap(),
            (0, 0)
        );
        tokio::time::sleep(Duration::from_millis(400)).await;
        assert_eq!(
            b.sweep(&q, 10, std::time::Duration::ZERO).await.unwrap(),
            (1, 0)
        );
        let (t2, _) = claim_one(&b, &q, "W").await;
        assert!(t2 > t1, "a new run gets a newer token ({t1} then {t2})");

        let lost = b
            .renew(
                &q,
                "W",
                &[(env.id.clone(), t1), (env.id.clone(), t2)],
                Duration::from_secs(5),
            )
            .await
            .unwrap()
            .superseded;
        assert_eq!(lost, vec![t1], "only the first run is reported lost");
        assert_eq!(
            b.finish(&q, "W", &[done(&env.id, t1)], 100, HIST)
                .await
                .unwrap(),
            vec![Applied::Superseded]
        );
        assert_eq!(
            unique_holder(&redis, "u1"),
            env.id,
            "the stale outcome freed nothing"
        );
        let mut dup = Envelope::new("noop", "default", Default::default(), 5);
        dup.unique_key = Some("u1".into());
        let r = b.enqueue(&dup, None).await.unwrap();
        assert_eq!(r.id(), env.id, "a duplicate is refused while run 2 goes on");
        assert_eq!(redis.int(&["LLEN", &keys::q("default").pending]), 0);
        assert_eq!(redis.stat("default", "done"), 0);

        assert_eq!(
            b.finish(&q, "W", &[done(&env.id, t2)], 100, HIST)
                .await
                .unwrap(),
            vec![Applied::Yes]
        );
        assert_eq!(
            b.finish(&q, "W", &[done(&env.id, t2)], 100, HIST)
                .await
                .unwrap(),
            vec![Applied::Already],
            "a retried write of an applied outcome is recognised, not refused"
        );
        assert_eq!(redis.stat("default", "done"), 1, "counted once");
        assert_eq!(
            unique_holder(&redis, "u1"),
            "",
            "run 2's outcome released the key"
        );
        assert!(b
            .renew(&q, "W", &[(env.id.clone(), t2)], Duration::from_secs(5))
            .await
            .unwrap()
            .superseded
            .is_empty());
    });
}

/// Worker A is SIGSTOPped past its lease while running a unique task. Its run does not
/// outlive the lease: the run's supervisor kills it while A is stopped, before Redis can
/// consider the lease expired, so when the task is recovered nothing of run 1 is left.
/// After SIGCONT, A records run 1 as fenced (a history note, no outcome), runs the task
/// again, and the unique key holds throughout; run 1 never reaches its end.
#[test]
fn sigstop_past_the_lease_the_run_is_stopped_before_the_task_is_recovered() {
    let redis = Redis::start();
    let ciq = Ciq::new(&redis);
    // Run 1 would outlive the stop by far; run 2 is long enough to try a duplicate meanwhile.
    let runs = recorder(&ciq, 8, 4);
    let mut a = ciq.spawn_worker("a", &["--concurrency", "2"]);
    let id = ciq
        .ok(&["enqueue", "rec", "--unique", "u1"])
        .trim()
        .to_string();
    assert!(
        wait_until(Duration::from_secs(10), || runs_of(&runs, "start").get(&id)
            == Some(&1)),
        "run 1 starts; log: {}",
        ciq.log("a")
    );
    let run1 = run_pids(&runs, &id)[0];
    let pid = a.id() as i32;
    unsafe { libc::kill(pid, libc::SIGSTOP) };
    // Recover it as any sweeper would, once the lease has expired by Redis's clock; at
    // that moment run 1 must already be gone.
    let recovered_with_run1_alive = block_on(async {
        let b = Broker::connect(&redis.url()).await.unwrap();
        let q = QueueKeys::new("default");
        for _ in 0..100 {
            let alive = process_alive(run1);
            if b.sweep(&q, 10, Duration::ZERO).await.unwrap() == (1, 0) {
                return Some(alive);
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        None
    });
    unsafe { libc::kill(pid, libc::SIGCONT) };
    assert_eq!(
        recovered_with_run1_alive,
        Some(false),
        "the lease expired and the task was recovered, with run 1 already stopped"
    );
    assert!(
        wait_until(Duration::from_secs(10), || runs_of(&runs, "start").get(&id)
            == Some(&2)),
        "A runs the task again; log: {}",
        ciq.log("a")
    );
    assert_eq!(
        unique_holder(&redis, "u1"),
        id,
        "the unique key holds while run 2 runs"
    );
    let dup = ciq.run(&["enqueue", "rec", "--unique", "u1"]);
    assert_eq!(
        String::from_utf8_lossy(&dup.stdout).trim(),
        id,
        "the duplicate gets the existing id"
    );
    assert_eq!(
        redis.int(&["LLEN", &keys::q("default").pending]),
        0,
        "no duplicate was queued"
    );
    assert!(
        wait_until(Duration::from_secs(15), || redis.stat("default", "done")
            == 1),
        "run 2's outcome is recorded; log: {}",
        ciq.log("a")
    );
    assert_eq!(
        unique_holder(&redis, "u1"),
        "",
        "released by run 2's outcome"
    );
    assert_eq!(runs_of(&runs, "start").get(&id), Some(&2), "no third run");
    assert_eq!(
        runs_of(&runs, "end").get(&id),
        Some(&1),
        "run 1 never ended its work"
    );
    assert!(a.stop(Duration::from_secs(10)).is_some_and(|s| s.success()));
    let log = ciq.log("a");
    assert!(
        !log.contains("outcome refused"),
        "run 1 reported no outcome: {log}"
    );
    assert!(
        log.contains("stopped run noted in the task's history"),
        "run 1 is recorded as fenced: {log}"
    );
    let hist = ciq.ok(&["inspect", "task", &id]);
    assert!(
        hist.contains("fenced"),
        "the history says why run 1 stopped: {hist}"
    );
}

/// Workers whose clocks are 30 s ahead and 30 s behind beside a normal one: long tasks
/// (longer than the lease) are neither stolen early nor run twice, and `ciq status`
/// reports both skewed clocks.
#[test]
fn skewed_worker_clocks_neither_steal_nor_double_run() {
    let redis = Redis::start();
    let ciq = Ciq::new(&redis);
    let runs = recorder(&ciq, 3, 3);
    let mut ws = [
        ciq.spawn_worker("normal", &["--concurrency", "2"]),
        ciq.spawn_worker_via(&strs(&faketime("+30s")), "ahead", &["--concurrency", "2"]),
        ciq.spawn_worker_via(&strs(&faketime("-30s")), "behind", &["--concurrency", "2"]),
    ];
    // Every worker is registered (and has measured its clock) before the tasks arrive.
    assert!(
        wait_until(Duration::from_secs(10), || redis
            .int(&["ZCARD", &keys::workers_seen()])
            == 3),
        "three workers heartbeat"
    );
    let ids: Vec<String> = (0..6)
        .map(|_| ciq.ok(&["enqueue", "rec"]).trim().to_string())
        .collect();
    let status: serde_json::Value =
        serde_json::from_str(&ciq.status_json()).expect("status --json");
    assert!(
        wait_until(Duration::from_secs(30), || redis.stat("default", "done")
            == 6),
        "all tasks done; logs: {}\n{}\n{}",
        ciq.log("normal"),
        ciq.log("ahead"),
        ciq.log("behind")
    );
    let starts = runs_of(&runs, "start");
    for id in &ids {
        assert_eq!(starts.get(id), Some(&1), "each task ran once: {starts:?}");
    }
    assert_eq!(
        redis.stat("default", "recovered"),
        0,
        "no lease was taken early"
    );
    for w in ws.iter_mut() {
        assert!(w.stop(Duration::from_secs(10)).is_some_and(|s| s.success()));
    }

    let skew = |name: &str| {
        status["workers"]
            .as_array()
            .unwrap()
            .iter()
            .find(|w| w["id"].as_str().unwrap().starts_with(&format!("{name}@")))
            .map(|w| w["clock_skew_ms"].as_i64().unwrap())
            .unwrap_or_else(|| panic!("worker {name} in status: {status}"))
    };
    assert!((skew("ahead") - 30_000).abs() < 2_000, "{status}");
    assert!((skew("behind") + 30_000).abs() < 2_000, "{status}");
    assert!(skew("normal").abs() < 2_000, "{status}");
    let problems = status["problems"].to_string();
    assert!(
        problems.contains("s clock is 30.0 s ahead of the Redis server's"),
        "{problems}"
    );
    assert!(
        problems.contains("s clock is 30.0 s behind the Redis server's"),
        "{problems}"
    );
    assert!(!problems.contains("no worker is alive"), "{problems}");
    assert!(
        ciq.log("ahead").contains("ahead of the Redis server's"),
        "the worker logs it"
    );
}

#[derive(Debug, Deserialize)]
struct Fire {
    fire_ms: u64,
    task_id: String,
}

/// Two beats, one 30 s ahead and one 30 s behind, the leader killed half-way: each
/// one-second tick fires once, none is skipped, and fire times follow Redis's clock.
#[test]
fn beats_with_skewed_clocks_fire_each_tick_once_on_redis_time() {
    let redis = Redis::start();
    let ciq = Ciq::new(&redis);
    ciq.config("[schedule.tick]\ntask = \"noop\"\nevery = \"1s\"\n");
    let spawn = |name: &str, offset: &str| {
        let log = std::fs::File::create(ciq.dir().join(format!("{name}.log"))).unwrap();
        ciq.cmd_via(
            &strs(&faketime(offset)),
            &["beat", "--name", name, "--lease", "1s", "--tick", "100ms"],
        )
        .stdout(Stdio::null())
        .stderr(log)
        .spawn()
        .map(Proc)
        .expect("spawn beat")
    };
    let history = || -> Vec<Fire> {
        let mut v: Vec<Fire> = redis
            .cli(&["LRANGE", &keys::beat_history("tick"), "0", "-1"])
            .lines()
            .filter(|l| !l.trim().is_empty())
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        v.sort_by_key(|f| f.fire_ms);
        v
    };
    let t0 = redis_ms(&redis);
    let mut ahead = spawn("ahead", "+30s");
    let mut behind = spawn("behind", "-30s");
    assert!(wait_until(Duration::from_secs(15), || history().len() >= 3));
    // Kill whichever leads; the other takes over from the same cursor.
    let leader: serde_json::Value =
        serde_json::from_str(redis.cli(&["GET", &keys::beat_leader()]).trim()).unwrap();
    let (dead, survivor) = if leader["holder"].as_str().unwrap().starts_with("ahead@") {
        (&mut ahead, &mut behind)
    } else {
        (&mut behind, &mut ahead)
    };
    sigkill(dead);
    let n = history().len();
    assert!(
        wait_until(Duration::from_secs(15), || history().len() >= n + 3),
        "the survivor keeps firing: {:?}\n{}\n{}",
        history(),
        ciq.log("ahead"),
        ciq.log("behind")
    );
    assert!(survivor.stop(Duration::from_secs(5)).is_some());
    let t1 = redis_ms(&redis);
    let h = history();
    let times: BTreeSet<u64> = h.iter().map(|f| f.fire_ms).collect();
    assert_eq!(times.len(), h.len(), "a tick fired twice: {h:?}");
    let ids: BTreeSet<&str> = h.iter().map(|f| f.task_id.as_str()).collect();
    assert_eq!(ids.len(), h.len(), "a task was enqueued twice: {h:?}");
    assert_eq!(
        redis.int(&["LLEN", &keys::q("default").pending]),
        h.len() as i64
    );
    for w in h.windows(2) {
        assert_eq!(
            w[1].fire_ms - w[0].fire_ms,
            1000,
            "a tick was skipped: {h:?}"
        );
    }
    for f in &h {
        assert!(
            f.fire_ms + 2_000 >= t0 && f.fire_ms <= t1,
            "fire time {} outside Redis's clock window {t0}..{t1}: {h:?}",
            f.fire_ms
        );
    }
}
