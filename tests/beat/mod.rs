//! Beat (issue 3): exactly-once firing with several beats, failover after kill -9,
//! one catch-up after downtime, config errors, SIGTERM release, `--once`, fencing,
//! Redis restart, start-up with Redis down. Helpers here are shared with `crash` and `inspect`.

mod crash;
mod inspect;

use crate::harness::*;
use serde::Deserialize;
use std::collections::BTreeSet;
use std::process::Stdio;
use std::time::{Duration, Instant};

#[derive(Debug, Deserialize)]
pub(crate) struct Fire {
    fire_ms: u64,
    at_ms: u64,
    pub(crate) task_id: String,
    late: bool,
    holder: String,
}

pub(crate) fn history(redis: &Redis, entry: &str) -> Vec<Fire> {
    let raw = redis.cli(&["LRANGE", &keys::beat_history(entry), "0", "-1"]);
    let mut v: Vec<Fire> = raw
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("history line {l:?}: {e}")))
        .collect();
    v.sort_by_key(|f| f.fire_ms);
    v
}

pub(crate) fn pending(redis: &Redis) -> i64 {
    redis.int(&["LLEN", &keys::q("default").pending])
}

pub(crate) fn spawn_beat(ciq: &Ciq, name: &str, lease: &str) -> Proc {
    let log = std::fs::File::create(ciq.dir().join(format!("{name}.log"))).unwrap();
    ciq.cmd(&["beat", "--name", name, "--lease", lease, "--tick", "100ms"])
        .stdout(Stdio::null())
        .stderr(log)
        .spawn()
        .map(Proc)
        .expect("spawn beat")
}

/// The holder name (the part before '@') of the current lease, if any.
pub(crate) fn leader(redis: &Redis) -> Option<String> {
    let v: serde_json::Value =
        serde_json::from_str(redis.cli(&["GET", &keys::beat_leader()]).trim()).ok()?;
    let h = v["holder"].as_str()?;
    Some(h.split('@').next().unwrap_or(h).to_string())
}

/// Every fire time appears once, each task was enqueued once, and fire times are
/// `step` apart with no gap.
fn assert_exactly_once(redis: &Redis, entry: &str, step: u64) -> Vec<Fire> {
    let h = history(redis, entry);
    let times: BTreeSet<u64> = h.iter().map(|f| f.fire_ms).collect();
    assert_eq!(times.len(), h.len(), "a fire time fired twice: {h:?}");
    let ids: BTreeSet<&str> = h.iter().map(|f| f.task_id.as_str()).collect();
    assert_eq!(ids.len(), h.len(), "a task id repeats: {h:?}");
    assert_eq!(pending(redis), h.len() as i64, "enqueued tasks != fires");
    for w in h.windows(2) {
        assert_eq!(
            w[1].fire_ms - w[0].fire_ms,
            step,
            "a tick was skipped: {h:?}"
        );
    }
    h
}

/// A Redis and a ciq whose config has one schedule entry, "hourly": noop every hour.
pub(crate) fn an_hourly_schedule() -> (Redis, Ciq) {
    let redis = Redis::start();
    let ciq = Ciq::new(&redis);
    ciq.config("[schedule.hourly]\ntask = \"noop\"\nevery = \"1h\"\n");
    (redis, ciq)
}

pub(crate) const EVERY_1S: &str = "[schedule.tick]\ntask = \"noop\"\nevery = \"1s\"\n";

#[test]
fn two_beats_fire_every_tick_exactly_once() {
    let redis = Redis::start();
    let ciq = Ciq::new(&redis);
    ciq.config(EVERY_1S);
    let mut a = spawn_beat(&ciq, "a", "1s");
    let mut b = spawn_beat(&ciq, "b", "1s");
    assert!(wait_until(Duration::from_secs(10), || history(
        &redis, "tick"
    )
    .len()
        >= 2));
    // Crontab-style `--once` runs beside them change nothing.
    for _ in 0..3 {
        ciq.ok(&["beat", "--once", "--lease", "1s", "--tick", "100ms"]);
    }
    assert!(wait_until(Duration::from_secs(15), || history(
        &redis, "tick"
    )
    .len()
        >= 5));
    let st = stop_all([&mut a, &mut b], Duration::from_secs(5));
    assert!(st[0].is_some_and(|s| s.success()));
    assert!(st[1].is_some_and(|s| s.success()));
    let h = assert_exactly_once(&redis, "tick", 1000);
    assert!(h.len() >= 5);
    let logs = ciq.log("a") + &ciq.log("b");
    assert!(logs.contains("standby"), "one beat stood by: {logs}");
}

#[test]
fn standby_fires_next_tick_within_one_lease_after_kill_9() {
    let redis = Redis::start();
    let ciq = Ciq::new(&redis);
    ciq.config("[schedule.tick]\ntask = \"noop\"\nevery = \"2s\"\n");
    let mut beats = vec![
        ("a", spawn_beat(&ciq, "a", "1s")),
        ("b", spawn_beat(&ciq, "b", "1s")),
    ];
    assert!(wait_until(Duration::from_secs(10), || history(
        &redis, "tick"
    )
    .len()
        >= 2));
    // Kill shortly before a tick is due, so the tick falls inside the dead lease.
    while !(1_600..1_800).contains(&(now_ms() % 2_000)) {
        std::thread::sleep(Duration::from_millis(10));
    }
    let first = leader(&redis).expect("a beat leads");
    let pos = beats.iter().position(|(n, _)| *n == first).unwrap();
    let (_, mut child) = beats.remove(pos);
    sigkill(&mut child);
    let killed_at = now_ms();
    let (other, mut standby) = beats.remove(0);
    assert!(
        wait_until(Duration::from_secs(6), || history(&redis, "tick")
            .iter()
            .any(|f| f.holder.starts_with(other))),
        "standby never fired"
    );
    let h = history(&redis, "tick");
    let taken = h.iter().find(|f| f.holder.starts_with(other)).unwrap();
    let due = taken.fire_ms.max(killed_at);
    eprintln!(
        "failover: standby fired {}ms after the tick was due ({}ms after the kill)",
        taken.at_ms.saturating_sub(due),
        taken.at_ms.saturating_sub(killed_at)
    );
    assert!(
        taken.at_ms <= due + 1000 + 500,
        "the standby fired {}ms after the tick was due (lease 1s)",
        taken.at_ms - due
    );
    let fired_before = h.len();
    assert!(wait_until(Duration::from_secs(5), || {
        history(&redis, "tick").len() > fired_before
    }));
    assert!(standby.stop(Duration::from_secs(5)).is_some());
    assert_exactly_once(&redis, "tick", 2000);
}

#[test]
fn restart_after_missed_ticks_fires_one_catch_up() {
    let redis = Redis::start();
    let ciq = Ciq::new(&redis);
    ciq.config(
        "[schedule.minutely]\ntask = \"noop\"\nevery = \"1m\"\n\n\
         [schedule.all3]\ntask = \"noop\"\nevery = \"1m\"\ncatch_up = \"all\"\ncatch_up_max = 3\n",
    );
    // First run: the beat learns the entries and sets their cursors.
    let mut b = spawn_beat(&ciq, "b1", "2s");
    assert!(wait_until(Duration::from_secs(10), || {
        redis.int(&["HEXISTS", &keys::beat_entry("minutely"), "next_fire_ms"]) == 1
            && redis.int(&["HEXISTS", &keys::beat_entry("all3"), "next_fire_ms"]) == 1
    }));
    assert!(b.stop(Duration::from_secs(5)).is_some());
    // Restart well inside a minute, so the catch-up is late and no on-time fire of
    // the next minute joins it.
    while !(2_000..55_000).contains(&(now_ms() % 60_000)) {
        std::thread::sleep(Duration::from_millis(200));
    }
    // Pretend it was down for an hour: the cursors point an hour back.
    let hour_ago = (now_ms() - 3_600_000) / 60_000 * 60_000;
    for e in ["minutely", "all3"] {
        let k = keys::beat_entry(e);
        redis.cli(&["HSET", &k, "next_fire_ms", &hour_ago.to_string()]);
    }
    let restarted = now_ms();
    let mut b = spawn_beat(&ciq, "b2", "2s");
    assert!(wait_until(Duration::from_secs(10), || history(
        &redis, "all3"
    )
    .len()
        >= 3
        && !history(&redis, "minutely").is_empty()));
    std::thread::sleep(Duration::from_millis(500));
    assert!(b.stop(Duration::from_secs(5)).is_some());
    let missed = |e: &str| {
        history(&redis, e)
            .into_iter()
            .filter(|f| f.fire_ms < restarted)
            .collect::<Vec<_>>()
    };
    let one = missed("minutely");
    assert_eq!(
        one.len(),
        1,
        "default policy fires one catch-up, not sixty: {one:?}"
    );
    assert!(one[0].late, "{one:?}");
    assert_eq!(
        one[0].fire_ms,
        restarted / 60_000 * 60_000,
        "the most recent fire time"
    );
    let all = missed("all3");
    assert_eq!(
        all.len(),
        3,
        "catch_up = all is capped by catch_up_max: {all:?}"
    );
    assert!(ciq.log("b2").contains("missed"), "the catch-up is logged");
}

#[test]
fn bad_cron_or_duration_is_a_one_line_config_error() {
    let redis = Redis::start();
    let ciq = Ciq::new(&redis);
    let cases = [
        (
            "[schedule.nightly]\ntask = \"noop\"\ncron = \"61 * * * *\"\n",
            "schedule.nightly.cron",
            "invalid cron expression",
        ),
        (
            "[schedule.often]\ntask = \"noop\"\nevery = \"3x\"\n",
            "schedule.often.every",
            "invalid duration",
        ),
        (
            "[schedule.tz]\ntask = \"noop\"\ncron = \"0 9 * * *\"\ntimezone = \"Mars/Base\"\n",
            "schedule.tz.timezone",
            "unknown time zone",
        ),
        (
            "[schedule.both]\ntask = \"noop\"\nevery = \"1m\"\ncron = \"* * * * *\"\n",
            "schedule.both.cron",
            "not both",
        ),
        (
            "[schedule.ghost]\nevery = \"1m\"\n",
            "schedule.ghost.task",
            "unknown task",
        ),
    ];
    for (toml, key, msg) in cases {
        ciq.config(toml);
        let out = ciq.run(&["beat", "--once"]);
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{toml}: {err}");
        assert_eq!(err.trim().lines().count(), 1, "one line: {err}");
        assert!(err.contains(key) && err.contains(msg), "{key}: {err}");
        assert!(!err.contains("panicked"));
    }
    assert_eq!(
        redis.cli(&["KEYS", "ciq:{beat}:*"]).trim(),
        "",
        "nothing ran"
    );
}

#[test]
fn sigterm_releases_the_lease_at_once() {
    let redis = Redis::start();
    let ciq = Ciq::new(&redis);
    ciq.config(EVERY_1S);
    let mut a = spawn_beat(&ciq, "a", "10s");
    assert!(wait_until(Duration::from_secs(10), || leader(&redis)
        .as_deref()
        == Some("a")));
    let mut b = spawn_beat(&ciq, "b", "10s");
    assert!(wait_until(Duration::from_secs(5), || ciq
        .log("b")
        .contains("standby")));
    sigterm(&a);
    let stopped = Instant::now();
    assert!(wait_exit(&mut a, Duration::from_secs(5)).is_some_and(|s| s.success()));
    assert!(
        wait_until(Duration::from_secs(3), || leader(&redis).as_deref()
            == Some("b")),
        "standby took over well before the 10s lease would expire"
    );
    assert!(stopped.elapsed() < Duration::from_secs(3));
    assert!(b.stop(Duration::from_secs(5)).is_some());
    assert_exactly_once(&redis, "tick", 1000);
}

#[test]
fn once_fires_due_entries_and_never_doubles() {
    let (redis, ciq) = an_hourly_schedule();
    ciq.ok(&["beat", "--once"]);
    assert_eq!(pending(&redis), 1, "an entry that never ran is due");
    ciq.ok(&["beat", "--once"]);
    assert_eq!(pending(&redis), 1, "the same fire time never fires twice");
    assert_eq!(
        redis.cli(&["GET", &keys::beat_leader()]).trim(),
        "",
        "--once released the lease"
    );
    // A running beat holds the lease: --once leaves the firing to it.
    redis.cli(&[
        "HDEL",
        &keys::beat_entry("hourly"),
        "next_fire_ms",
        "last_fire_ms",
    ]);
    redis.cli(&[
        "SET",
        &keys::beat_leader(),
        r#"{"holder":"other","since_ms":1,"token":99}"#,
        "PX",
        "10000",
    ]);
    ciq.ok(&["beat", "--once"]);
    assert_eq!(pending(&redis), 1, "--once does not fire beside a leader");
}

#[test]
fn a_stale_token_cannot_fire_and_a_fire_time_fires_once() {
    use ciq::broker::beat::{Fire, Fired};
    let redis = Redis::start();
    block_on(async {
        let b = ciq::broker::Broker::connect(&redis.url()).await.unwrap();
        let lease = Duration::from_millis(200);
        let a = b.beat_lease("A", lease).await.unwrap();
        assert!(a.ours);
        tokio::time::sleep(Duration::from_millis(300)).await;
        let c = b.beat_lease("C", Duration::from_secs(5)).await.unwrap();
        assert!(
            c.ours && c.token > a.token,
            "a new holder gets a newer token"
        );
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("ciq.toml");
        std::fs::write(&path, "").unwrap();
        let ov = ciq::config::Overrides {
            config: Some(path),
            ..Default::default()
        };
        let cfg = ciq::config::load(&ov).unwrap();
        let env =
            ciq::submit::build_envelope(&cfg, "noop", Default::default(), None, None).unwrap();
        let fire = |holder: &'static str, token: u64| Fire {
            entry: "e",
            holder,
            token,
            fire_ms: Some(60_000),
            next_ms: 120_000,
            schedule: "every 1m",
            fired_ttl: Duration::from_secs(60),
            history: 10,
            envelope: Some(&env),
            late: false,
        };
        let now = now_ms();
        assert_eq!(
            b.beat_fire(&fire("A", a.token), now).await.unwrap(),
            Fired::NotLeader
        );
        assert_eq!(
            b.beat_fire(&fire("C", a.token), now).await.unwrap(),
            Fired::NotLeader
        );
        assert!(matches!(
            b.beat_fire(&fire("C", c.token), now).await.unwrap(),
            Fired::Enqueued(_)
        ));
        assert!(matches!(
            b.beat_fire(&fire("C", c.token), now).await.unwrap(),
            Fired::Already(_)
        ));
        assert!(
            !b.beat_release("A", a.token).await.unwrap(),
            "A cannot release C's lease"
        );
        assert!(b.beat_release("C", c.token).await.unwrap());
    });
    assert_eq!(pending(&redis), 1);
}

#[test]
fn beat_resumes_after_redis_restart_without_double_firing() {
    let mut redis = Redis::start_aof();
    let ciq = Ciq::new(&redis);
    ciq.config(EVERY_1S);
    let mut a = spawn_beat(&ciq, "a", "1s");
    assert!(wait_until(Duration::from_secs(10), || history(
        &redis, "tick"
    )
    .len()
        >= 2));
    redis.restart();
    let after = now_ms();
    assert!(
        wait_until(Duration::from_secs(15), || history(&redis, "tick")
            .iter()
            .filter(|f| f.at_ms > after)
            .count()
            >= 2),
        "beat resumed: {}",
        ciq.log("a")
    );
    assert!(a.stop(Duration::from_secs(5)).is_some());
    let h = history(&redis, "tick");
    let times: BTreeSet<u64> = h.iter().map(|f| f.fire_ms).collect();
    assert_eq!(
        times.len(),
        h.len(),
        "no fire time twice across the restart"
    );
    assert_eq!(pending(&redis), h.len() as i64);
}

/// A beat started while Redis is down waits for it (and obeys SIGTERM meanwhile), then
/// fires once Redis is up.
#[test]
fn a_beat_started_before_redis_waits_for_it_and_stops_on_sigterm_meanwhile() {
    let mut redis = Redis::start();
    let ciq = Ciq::new(&redis);
    ciq.config(EVERY_1S);
    redis.kill();
    let mut quitter = spawn_beat(&ciq, "quitter", "2s");
    let mut a = spawn_beat(&ciq, "a", "2s");
    std::thread::sleep(Duration::from_millis(800));
    assert!(
        quitter.try_wait().unwrap().is_none() && a.try_wait().unwrap().is_none(),
        "a beat does not exit while Redis is down"
    );
    assert!(
        quitter
            .stop(Duration::from_secs(3))
            .is_some_and(|s| s.success()),
        "SIGTERM while waiting for Redis stops it: {}",
        ciq.log("quitter")
    );
    redis.restart();
    assert!(
        wait_until(Duration::from_secs(15), || history(&redis, "tick").len()
            >= 2),
        "it fires once Redis is up: {}",
        ciq.log("a")
    );
    assert!(a.stop(Duration::from_secs(5)).is_some());
    assert_exactly_once(&redis, "tick", 1000);
}
