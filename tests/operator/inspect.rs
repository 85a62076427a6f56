//! `ciq inspect task`: one task followed through retry to done, another to dead, by id
//! and by unique key, human and `--json` (read into the test's own types); the history
//! is bounded by age and count; `enqueue --wait` explains a timeout from the same record.

use crate::harness::*;
use serde::Deserialize;
use std::time::Duration;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)]
struct TaskJson {
    id: String,
    queue: String,
    task: Option<String>,
    state: String,
    args: Option<serde_json::Map<String, serde_json::Value>>,
    attempt: Option<u32>,
    max_retries: Option<u32>,
    unique_key: Option<String>,
    worker: Option<String>,
    claimed_at: Option<String>,
    next_at: Option<String>,
    last_error: Option<String>,
    reason: Option<String>,
    output: Option<String>,
    events: Vec<EventJson>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)]
struct EventJson {
    at: String,
    at_ms: u64,
    event: String,
    worker: Option<String>,
    attempt: Option<u32>,
    error: Option<String>,
    reason: Option<String>,
    next_at: Option<String>,
    output: Option<String>,
}

fn task_json(ciq: &Ciq, args: &[&str]) -> TaskJson {
    let mut a = vec!["--json", "inspect", "task"];
    a.extend_from_slice(args);
    serde_json::from_str(&ciq.ok(&a)).expect("inspect task --json parses")
}

fn kinds(t: &TaskJson) -> Vec<&str> {
    t.events.iter().map(|e| e.event.as_str()).collect()
}

#[test]
fn inspect_task_follows_a_retry_to_done_and_another_task_to_dead() {
    let redis = Redis::start();
    let ciq = Ciq::new(&redis);
    let marker = ciq.dir().join("tried-once");
    let script = ciq.dir().join("flaky.sh");
    std::fs::write(
        &script,
        format!(
            "if [ -f {m} ]; then echo 'second try ok'; exit 0; fi\ntouch {m}\necho 'first try broke' >&2\nexit 75\n",
            m = marker.display()
        ),
    )
    .unwrap();
    ciq.config(&format!(
        "[tasks.flaky]\nqueue = \"default\"\nmax_retries = 2\nbackoff = \"50ms\"\nbackoff_max = \"100ms\"\nrunner = {{ exec = [\"sh\", \"{}\"] }}\n\n[tasks.noop]\nmax_retries = 1\nbackoff = \"50ms\"\nbackoff_max = \"100ms\"\n",
        script.display()
    ));
    let flaky = ciq
        .ok(&["enqueue", "flaky", "--unique", "flaky:1", "--arg", "n=1"])
        .trim()
        .to_string();
    let doomed = ciq
        .ok(&["enqueue", "noop", "--arg", "fail=retry"])
        .trim()
        .to_string();
    let before = task_json(&ciq, &[&flaky]);
    assert_eq!(before.state, "pending");
    assert_eq!(kinds(&before), ["enqueued"]);

    let _w = ciq.spawn_worker("w1", &["--queues", "default"]);
    let settled = wait_until(Duration::from_secs(30), || {
        task_json(&ciq, &[&flaky]).state == "done" && task_json(&ciq, &[&doomed]).state == "dead"
    });
    assert!(settled, "worker log:\n{}", ciq.log("w1"));

    let t = task_json(&ciq, &[&flaky]);
    assert_eq!(
        kinds(&t),
        ["enqueued", "claimed", "retried", "claimed", "done"]
    );
    assert_eq!(t.task.as_deref(), Some("flaky"));
    assert_eq!(t.unique_key.as_deref(), Some("flaky:1"));
    assert_eq!(t.args.as_ref().unwrap()["n"], 1);
    assert_eq!(t.attempt, Some(2));
    assert_eq!(t.events[1].attempt, Some(1));
    assert_eq!(t.events[3].attempt, Some(2));
    assert!(t.events[1].worker.as_deref().unwrap().starts_with("w1@"));
    assert!(t.events[2]
        .error
        .as_deref()
        .unwrap()
        .contains("first try broke"));
    assert!(t.events[2].next_at.is_some());
    assert!(t.last_error.as_deref().unwrap().contains("exit status 75"));
    assert_eq!(t.output.as_deref(), Some("second try ok"));
    let times: Vec<u64> = t.events.iter().map(|e| e.at_ms).collect();
    assert!(times.windows(2).all(|w| w[0] <= w[1]), "{times:?}");

    // By unique key, after the key was released: the last task that held it.
    let by_key = task_json(&ciq, &["--unique", "flaky:1"]);
    assert_eq!(by_key.id, flaky);

    let d = task_json(&ciq, &[&doomed]);
    assert_eq!(
        kinds(&d),
        ["enqueued", "claimed", "retried", "claimed", "dead"]
    );
    assert_eq!(
        d.reason.as_deref(),
        Some("retries exhausted after 2 attempt(s)")
    );
    assert_eq!(
        d.last_error.as_deref(),
        Some("noop asked to fail (retryable)")
    );

    let human = ciq.ok(&["inspect", "task", &flaky]);
    assert!(
        human.starts_with(&format!("task {flaky}  flaky  queue default  DONE")),
        "{human}"
    );
    for want in [
        "claimed       by w1@",
        "retried       error: ",
        "done",
        "output     second try ok",
        "attempt    2 of 3",
    ] {
        assert!(human.contains(want), "missing {want:?} in:\n{human}");
    }
    let human = ciq.ok(&["inspect", "task", &doomed]);
    assert!(
        human.contains("DEAD") && human.contains("reason     retries exhausted"),
        "{human}"
    );

    let err = ciq.fails(&["inspect", "task", "01NOSUCHTASK"], 1);
    assert!(
        err.starts_with("error: no record of task 01NOSUCHTASK"),
        "{err}"
    );
}

#[test]
fn history_is_trimmed_by_count_and_by_age() {
    let redis = Redis::start();
    let ciq = Ciq::new(&redis);
    ciq.config("[worker]\nhistory_max = 5\nhistory_retention = \"1h\"\n");
    let ids: Vec<String> = (0..12)
        .map(|_| ciq.ok(&["enqueue", "noop"]).trim().to_string())
        .collect();
    let _w = ciq.spawn_worker("w1", &["--queues", "default", "--concurrency", "1"]);
    assert!(wait_until(Duration::from_secs(20), || {
        task_json(&ciq, &[ids.last().unwrap()]).state == "done"
    }));
    assert!(redis.int(&["LLEN", &keys::q("default").history_ends]) <= 5);
    assert!(redis.int(&["HLEN", &keys::q("default").history]) <= 5);
    assert_eq!(
        ciq.run(&["inspect", "task", &ids[0]]).status.code(),
        Some(1)
    );
    drop(_w);

    // Age: with a short retention, an older task's history goes when a later one ends.
    ciq.config("[worker]\nhistory_retention = \"300ms\"\n");
    let old = ciq.ok(&["enqueue", "noop"]).trim().to_string();
    let _w = ciq.spawn_worker("w2", &["--queues", "default"]);
    assert!(wait_until(Duration::from_secs(20), || {
        task_json(&ciq, &[&old]).state == "done"
    }));
    std::thread::sleep(Duration::from_millis(600));
    let new = ciq.ok(&["enqueue", "noop"]).trim().to_string();
    assert!(wait_until(Duration::from_secs(20), || {
        task_json(&ciq, &[&new]).state == "done"
    }));
    assert_eq!(ciq.run(&["inspect", "task", &old]).status.code(), Some(1));
}

/// A task whose worker was killed shows `lease_expired` (from the sweep, naming the lost
/// worker) before its second claim; a purged task ends in `purged`.
#[test]
fn inspect_task_shows_a_lost_lease_and_a_purge() {
    let redis = Redis::start();
    let ciq = Ciq::new(&redis);
    let id = enqueue_a_sleeping_noop(&ciq, 2000);
    let mut lost = ciq.spawn_worker("lost", &["--queues", "default"]);
    assert!(wait_until(Duration::from_secs(15), || {
        task_json(&ciq, &[&id]).state == "running"
    }));
    sigkill(&mut lost);
    let _w = ciq.spawn_worker("rescuer", &["--queues", "default"]);
    let mut t = task_json(&ciq, &[&id]);
    assert!(
        wait_until(Duration::from_secs(30), || {
            t = task_json(&ciq, &[&id]);
            t.state == "done"
        }),
        "{t:?}"
    );
    assert_eq!(
        kinds(&t),
        ["enqueued", "claimed", "lease_expired", "claimed", "done"],
        "{t:?}"
    );
    // The record the sweep made (its message was marked for one) keeps the arguments.
    assert_eq!(
        t.args.as_ref().and_then(|a| a.get("sleep_ms")),
        Some(&serde_json::json!(2000)),
        "{t:?}"
    );
    let expired = &t.events[2];
    assert!(
        expired
            .worker
            .as_deref()
            .is_some_and(|w| w.starts_with("lost")),
        "{expired:?}"
    );
    assert!(
        expired
            .error
            .as_deref()
            .is_some_and(|e| e.contains("lease expired")),
        "{expired:?}"
    );
    assert!(t.events[3]
        .worker
        .as_deref()
        .is_some_and(|w| w.starts_with("rescuer")));
    assert_eq!(t.events[3].attempt, Some(2));
    let human = ciq.ok(&["inspect", "task", &id]);
    assert!(
        human
            .lines()
            .any(|l| l.contains("lease_expired") && l.contains("by lost")),
        "{human}"
    );

    let later = ciq
        .ok(&["enqueue", "noop", "--countdown", "1h"])
        .trim()
        .to_string();
    ciq.ok(&["purge", "default", "--state", "scheduled", "--yes"]);
    let p = task_json(&ciq, &[&later]);
    assert_eq!(p.state, "purged", "{p:?}");
    assert_eq!(kinds(&p), ["scheduled", "purged"], "{p:?}");
    let human = ciq.ok(&["inspect", "task", &later]);
    assert!(human.contains("PURGED"), "{human}");
}

/// A running task (issue 19): `inspect task` shows its worker since the real claim time
/// (it once read the claim token as the time: "since 1970-01-01T00:00:00.001Z") and a
/// `claimed` line, although claims reach the history only with the run's outcome.
#[test]
fn inspect_task_shows_a_running_task_since_its_claim_with_a_claimed_line() {
    let redis = Redis::start();
    let ciq = Ciq::new(&redis);
    let id = enqueue_a_sleeping_noop(&ciq, 8000);
    let before = redis_now_ms(&redis);
    let _w = ciq.spawn_worker("w", &["--queues", "default"]);
    let mut t = task_json(&ciq, &[&id]);
    assert!(wait_until(Duration::from_secs(10), || {
        t = task_json(&ciq, &[&id]);
        t.state == "running"
    }));
    let claimed = t.events.last().expect("events");
    assert_eq!(claimed.event, "claimed", "{:?}", kinds(&t));
    assert!(claimed
        .worker
        .as_deref()
        .is_some_and(|w| w.starts_with("w@")));
    assert_eq!(claimed.attempt, Some(1));
    assert!(
        claimed.at_ms >= before && claimed.at_ms < before + 15_000,
        "claimed at {} (enqueued around {before})",
        claimed.at
    );
    assert_eq!(t.claimed_at.as_deref(), Some(claimed.at.as_str()));
    let text = ciq.ok(&["inspect", "task", &id]);
    assert!(!text.contains("1970-01-01"), "{text}");
    assert!(text.contains(&format!("since {}", claimed.at)), "{text}");
    assert_eq!(text.matches("claimed").count(), 1, "{text}");
}

fn redis_now_ms(redis: &Redis) -> u64 {
    let t = redis.cli(&["TIME"]);
    let mut l = t.lines().map(|x| x.trim().parse::<u64>().unwrap());
    l.next().unwrap() * 1000 + l.next().unwrap() / 1000
}

/// Issue 20: a traced run that succeeds without output is stored as one compact line
/// (no JSON built in Lua), and `inspect task` still shows who claimed it, when, which
/// attempt, and when it was done.
#[test]
fn inspect_task_shows_the_claim_and_success_of_a_compactly_stored_run() {
    let redis = Redis::start();
    let ciq = Ciq::new(&redis);
    let id = ciq.ok(&["enqueue", "noop"]).trim().to_string();
    let before = redis_now_ms(&redis);
    let _w = ciq.spawn_worker("w", &["--queues", "default"]);
    let mut t = task_json(&ciq, &[&id]);
    assert!(wait_until(Duration::from_secs(10), || {
        t = task_json(&ciq, &[&id]);
        t.state == "done"
    }));
    let raw = redis.cli(&["HGET", &keys::q("default").history, &id]);
    let compact = raw.lines().filter(|l| l.starts_with('~')).count();
    assert_eq!(compact, 1, "one compact line for the run: {raw}");
    assert_eq!(kinds(&t), ["enqueued", "claimed", "done"]);
    let (claimed, done) = (&t.events[1], &t.events[2]);
    assert!(claimed
        .worker
        .as_deref()
        .is_some_and(|w| w.starts_with("w@")));
    assert_eq!(claimed.attempt, Some(1));
    assert!(claimed.at_ms >= before && done.at_ms >= claimed.at_ms);
    let text = ciq.ok(&["inspect", "task", &id]);
    assert!(text.contains("claimed") && text.contains("by w@"), "{text}");
}

/// `ciq enqueue noop --arg sleep_ms=MS`; the task id.
fn enqueue_a_sleeping_noop(ciq: &Ciq, ms: u64) -> String {
    ciq.ok(&["enqueue", "noop", "--arg", &format!("sleep_ms={ms}")])
        .trim()
        .to_string()
}
