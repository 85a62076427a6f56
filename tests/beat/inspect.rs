//! `inspect scheduled`, outcome tracking and `beat --once` failure modes (issue 3).

use super::{leader, spawn_beat, EVERY_1S};
use crate::harness::*;
use serde::Deserialize;
use std::time::{Duration, Instant};

#[derive(Debug, Deserialize)]
struct View {
    leader: Option<LeaderRow>,
    beats: Vec<BeatRow>,
    periodic: Vec<Periodic>,
    delayed: Vec<Delayed>,
}
#[derive(Debug, Deserialize)]
struct LeaderRow {
    holder: String,
    token: u64,
}
#[derive(Debug, Deserialize)]
struct BeatRow {
    id: String,
    role: String,
}
#[derive(Debug, Deserialize)]
struct Periodic {
    name: String,
    schedule: String,
    next_run_ms: Option<u64>,
    last_run_ms: Option<u64>,
    last_outcome: Option<String>,
    consecutive_failures: u64,
    history: Vec<FireRow>,
}
#[derive(Debug, Deserialize)]
struct FireRow {
    fire_ms: u64,
    task_id: String,
}
#[derive(Debug, Deserialize)]
struct Delayed {
    task: String,
    state: String,
    due_ms: u64,
    attempt: u32,
}

/// SIGTERM to the beat and the worker together: the beat exits within 5 s, the worker
/// within 10 s.
fn stop_beat_and_worker(b: &mut Proc, w: &mut Proc) {
    sigterm(b);
    sigterm(w);
    assert!(b.wait_or_kill(Duration::from_secs(5)).is_some());
    assert!(w.wait_or_kill(Duration::from_secs(10)).is_some());
}

#[test]
fn inspect_scheduled_shows_entries_lease_and_delayed_tasks() {
    let redis = Redis::start();
    let ciq = Ciq::new(&redis);
    ciq.config(&format!("{EVERY_1S}\n[schedule.nightly]\ntask = \"noop\"\ncron = \"0 3 * * *\"\ntimezone = \"Europe/Berlin\"\n"));
    ciq.ok(&["enqueue", "noop", "--countdown", "1h"]);
    let mut b = spawn_beat(&ciq, "b", "2s");
    assert!(wait_until(Duration::from_secs(10), || leader(&redis)
        .as_deref()
        == Some("b")));
    let mut s = spawn_beat(&ciq, "s", "2s");
    let mut w = ciq.spawn_worker("w", &[]);
    assert!(wait_until(Duration::from_secs(10), || redis
        .cli(&["HGET", &keys::beat_entry("tick"), "last_outcome"])
        .trim()
        == "done"));
    let v: View =
        serde_json::from_str(&ciq.ok(&["inspect", "scheduled", "--json", "--history", "5"]))
            .unwrap();
    let l = v.leader.expect("a leader");
    assert!(l.holder.starts_with("b@") && l.token >= 1);
    let roles: Vec<(&str, &str)> = v
        .beats
        .iter()
        .map(|b| (&b.id[..2], b.role.as_str()))
        .collect();
    assert!(
        roles.contains(&("b@", "leader")) && roles.contains(&("s@", "standby")),
        "{roles:?}"
    );
    let tick = v.periodic.iter().find(|p| p.name == "tick").unwrap();
    assert_eq!(tick.schedule, "every 1s");
    assert!(tick.last_run_ms.is_some() && tick.next_run_ms > tick.last_run_ms);
    assert_eq!(tick.consecutive_failures, 0);
    let newest = tick.history.first().expect("recent fires listed");
    // Read just after the entry: a fire in between can only make it newer.
    assert!(
        Some(newest.fire_ms) >= tick.last_run_ms,
        "{newest:?} {tick:?}"
    );
    assert_eq!(newest.task_id.len(), 26);
    assert!(matches!(
        tick.last_outcome.as_deref(),
        Some("done" | "pending")
    ));
    let nightly = v.periodic.iter().find(|p| p.name == "nightly").unwrap();
    assert_eq!(nightly.schedule, "cron 0 3 * * * (Europe/Berlin)");
    assert!(nightly.last_run_ms.is_none() && nightly.next_run_ms.is_some());
    assert_eq!(v.delayed.len(), 1);
    assert_eq!(
        (
            v.delayed[0].task.as_str(),
            v.delayed[0].state.as_str(),
            v.delayed[0].attempt
        ),
        ("noop", "scheduled", 1)
    );
    assert!(v.delayed[0].due_ms > now_ms() + 3_500_000);
    let table = ciq.ok(&["inspect", "scheduled"]);
    assert!(
        table.contains("beat leader: b@") && table.contains("nightly"),
        "{table}"
    );
    assert!(table.contains("standby beats: s@"), "{table}");
    assert!(s.stop(Duration::from_secs(5)).is_some());
    let listed = redis.cli(&["ZRANGE", &keys::beat_seen(), "0", "-1"]);
    assert!(
        !listed.contains("s@"),
        "a stopped standby leaves the list: {listed}"
    );
    stop_beat_and_worker(&mut b, &mut w);
}

#[test]
fn failing_periodic_task_counts_consecutive_failures() {
    let redis = Redis::start();
    let ciq = Ciq::new(&redis);
    ciq.config("[schedule.broken]\ntask = \"noop\"\nevery = \"1s\"\nargs = { fail = \"fail\" }\n");
    let mut b = spawn_beat(&ciq, "b", "2s");
    let mut w = ciq.spawn_worker("w", &[]);
    let field = |f: &str| {
        redis
            .cli(&["HGET", &keys::beat_entry("broken"), f])
            .trim()
            .to_string()
    };
    assert!(
        wait_until(Duration::from_secs(15), || field("consecutive_failures")
            .parse::<u32>()
            .is_ok_and(|n| n >= 2)),
        "failures counted: {}",
        ciq.log("b")
    );
    assert!(matches!(
        field("last_outcome").as_str(),
        "failed" | "pending"
    ));
    stop_beat_and_worker(&mut b, &mut w);
}

#[test]
fn once_with_redis_down_fails_fast_with_the_broker_exit_code() {
    let redis = Redis::start();
    let mut ciq = Ciq::new(&redis);
    ciq.broker = format!("redis://127.0.0.1:{}/0", free_port());
    ciq.config(EVERY_1S);
    let started = Instant::now();
    let out = ciq.run(&["beat", "--once"]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(3), "{err}");
    assert!(err.contains("cannot reach Redis"), "{err}");
    assert!(started.elapsed() < Duration::from_secs(10));
}

/// `beat::run` as `ciq up` will call it: stops on its watch channel and releases the
/// lease; a dropped sender does not make it spin or stop.
#[test]
fn beat_run_is_reusable_and_stops_on_its_shutdown_channel() {
    use ciq::shutdown::Shutdown;
    let redis = Redis::start();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("ciq.toml");
    std::fs::write(
        &path,
        format!(
            "broker = \"{}\"\n[beat]\nlease = \"1s\"\ntick = \"100ms\"\n{EVERY_1S}",
            redis.url()
        ),
    )
    .unwrap();
    let ov = ciq::config::Overrides {
        config: Some(path),
        ..Default::default()
    };
    let cfg = std::sync::Arc::new(ciq::config::load(&ov).unwrap());
    block_on(async {
        let broker = ciq::broker::Broker::connect(&redis.url()).await.unwrap();
        let opts = ciq::beat::BeatOptions::from_config(&cfg, "embedded".into());
        // A closed channel: the beat keeps running (and firing) instead of spinning.
        let (tx, rx) = tokio::sync::watch::channel(Shutdown::Run);
        drop(tx);
        let before = commands(&redis);
        let run = ciq::beat::run(cfg.clone(), broker.clone(), opts.clone(), rx);
        let out = tokio::time::timeout(Duration::from_millis(2500), run).await;
        assert!(out.is_err(), "still running after 2.5s");
        // ~10 ticks a second of a few commands each; a spinning loop sends thousands.
        let sent = commands(&redis) - before;
        eprintln!("beat sent {sent} Redis commands in 2.5s");
        assert!(sent < 400, "{sent} Redis commands in 2.5s");
        // A live channel: Graceful stops it and the lease goes at once.
        let (tx, rx) = tokio::sync::watch::channel(Shutdown::Run);
        let task = tokio::spawn(ciq::beat::run(cfg.clone(), broker.clone(), opts, rx));
        tokio::time::sleep(Duration::from_millis(1500)).await;
        let started = Instant::now();
        tx.send(Shutdown::Graceful).unwrap();
        let res = tokio::time::timeout(Duration::from_secs(2), task).await;
        assert!(matches!(res, Ok(Ok(Ok(())))), "{res:?}");
        assert!(started.elapsed() < Duration::from_millis(500));
    });
    assert_eq!(
        redis.cli(&["GET", &keys::beat_leader()]).trim(),
        "",
        "lease released"
    );
    assert!(history_len(&redis) >= 2, "it fired while running");
    assert!(super::pending(&redis) >= 2);
}

fn history_len(redis: &Redis) -> usize {
    super::history(redis, "tick").len()
}

fn commands(redis: &Redis) -> i64 {
    redis
        .cli(&["INFO", "stats"])
        .lines()
        .find_map(|l| l.strip_prefix("total_commands_processed:"))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(0)
}
