//! Gate checks before moving to the next stage, read from Redis: broker reachable, a
//! worker heartbeat and a beat leader alive, every periodic task fired and succeeded
//! recently, and no test pending longer than the threshold. Entering stage 1 only needs
//! the broker (the services do not exist yet).

use crate::broker::beat::EntryState;
use crate::broker::Broker;
use crate::config::rollout::Rollout;
use crate::config::Config;
use crate::output::age;
use serde::Serialize;
use std::collections::BTreeMap;

/// One check and what it saw.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Gate {
    pub name: String,
    pub ok: bool,
    /// Not passed yet, but not failed either: what it waits for has not had its time
    /// (a periodic task's first run still queued or running, its first fire ahead).
    pub not_yet_due: bool,
    pub detail: String,
}

impl Gate {
    /// "ok", "not yet due" or "FAIL", for tables.
    pub fn result(&self) -> &'static str {
        if self.ok {
            "ok"
        } else if self.not_yet_due {
            "not yet due"
        } else {
            "FAIL"
        }
    }
}

fn gate(name: impl Into<String>, ok: bool, detail: impl Into<String>) -> Gate {
    Gate {
        name: name.into(),
        ok,
        not_yet_due: false,
        detail: detail.into(),
    }
}

fn not_yet_due(name: impl Into<String>, detail: impl Into<String>) -> Gate {
    Gate {
        not_yet_due: true,
        ..gate(name, false, detail)
    }
}

/// One periodic entry as the beat and the worker recorded it.
#[derive(Debug, Clone, Default)]
pub struct EntrySnap {
    pub name: String,
    pub task: String,
    /// How often the entry fires (ms), when known: a slow entry gets two intervals.
    pub interval_ms: Option<u64>,
    pub beat: EntryState,
    pub last_done: Option<u64>,
    pub last_failed: Option<u64>,
    /// Where the task of the last fire is, when it is still on its way ("waiting in its
    /// queue", "running on w1"); None when it finished, failed or is gone.
    pub last_run: Option<String>,
}

/// Everything the gates read, gathered first so the judging is a pure function.
#[derive(Debug, Clone, Default)]
pub struct Snapshot {
    pub workers: Vec<(String, u64)>,
    /// The lease holder, if a beat holds it.
    pub leader: Option<String>,
    pub entries: Vec<EntrySnap>,
    /// Pending test id -> when discovery first saw it (ms).
    pub first_seen: BTreeMap<i64, u64>,
}

/// A periodic entry to check: its name, task, queue and interval (ms) when known.
pub struct Periodic {
    pub name: String,
    pub task: String,
    pub queue: String,
    pub interval_ms: Option<u64>,
}

/// The gap between the next two fire times of a cron expression, read as the beat reads
/// it (crontab weekdays, `@hourly`...).
fn cron_interval_ms(expr: &str) -> Option<u64> {
    crate::cron::Rule::parse(None, Some(expr), None)
        .ok()?
        .interval_ms(crate::broker::now_ms())
}

/// Periodic entries to check: the resolved schedule (the platform's two tasks unless
/// ciq.toml says otherwise).
pub fn periodic_entries(cfg: &Config) -> Vec<Periodic> {
    let queue_of = |task: &str| {
        cfg.task(task)
            .map(|t| t.queue.clone())
            .unwrap_or_else(|| "default".into())
    };
    cfg.schedule
        .iter()
        .map(|(name, e)| {
            let task = e.task.clone().unwrap_or_else(|| name.clone());
            Periodic {
                name: name.clone(),
                queue: e.queue.clone().unwrap_or_else(|| queue_of(&task)),
                interval_ms: e
                    .every
                    .map(|d| d.as_millis())
                    .or_else(|| e.cron.as_deref().and_then(cron_interval_ms)),
                task,
            }
        })
        .collect()
}

async fn snapshot(b: &Broker, cfg: &Config) -> crate::broker::Result<Snapshot> {
    let mut entries = vec![];
    for p in periodic_entries(cfg) {
        let stats = b.stats_raw(&p.queue).await?;
        let ms = |k: String| stats.get(&k).and_then(|v| v.parse().ok());
        let beat = b.beat_entry(&p.name).await?;
        let last_run = match &beat.last_task_id {
            Some(id) => b
                .task_record(id, std::slice::from_ref(&p.queue))
                .await?
                .and_then(|t| on_its_way(&t)),
            None => None,
        };
        entries.push(EntrySnap {
            beat,
            last_run,
            last_done: ms(format!("last_done:{}", p.task)),
            last_failed: ms(format!("last_failed:{}", p.task)),
            interval_ms: p.interval_ms,
            name: p.name,
            task: p.task,
        });
    }
    Ok(Snapshot {
        workers: b.worker_heartbeats().await?,
        leader: b.beat_leader().await?.map(|l| l.holder),
        entries,
        first_seen: b.first_seen().await?.into_iter().collect(),
    })
}

/// "waiting in its queue" / "running on W" for a task still on its way; None otherwise.
fn on_its_way(t: &crate::broker::history::TaskRecord) -> Option<String> {
    if let Some((w, ..)) = &t.live.active {
        return Some(format!("running on {w}"));
    }
    if t.live.retry_at.is_some() || t.live.dead_at.is_some() {
        return None;
    }
    let last = t.events.last().map(|e| e.ev.as_str());
    matches!(
        last,
        Some("enqueued" | "scheduled" | "requeued" | "brought_forward")
    )
    .then(|| "waiting in its queue".to_string())
}

fn ago(now: u64, at: u64) -> String {
    format!("{} ago", age(now.saturating_sub(at) as f64 / 1000.0))
}

/// Judges a snapshot taken at `now` (ms).
pub fn evaluate(s: &Snapshot, r: &Rollout, now: u64) -> Vec<Gate> {
    let mut out = vec![];
    let hb_max = r.heartbeat_max_age.as_millis();
    out.push(match s.workers.iter().max_by_key(|w| w.1) {
        Some((id, at)) if now.saturating_sub(*at) <= hb_max => gate(
            "worker alive",
            true,
            format!("{id} heartbeat {}", ago(now, *at)),
        ),
        Some((id, at)) => gate(
            "worker alive",
            false,
            format!(
                "newest heartbeat ({id}) is {}; limit {}",
                ago(now, *at),
                r.heartbeat_max_age
            ),
        ),
        None => gate("worker alive", false, "no worker has registered"),
    });
    out.push(match &s.leader {
        Some(h) => gate("beat leader", true, format!("held by {h}")),
        None => gate("beat leader", false, "no beat holds the leader lease"),
    });
    for e in &s.entries {
        let limit = r
            .periodic_max_age
            .as_millis()
            .max(e.interval_ms.unwrap_or(0).saturating_mul(2));
        let limit_text = humantime::format_duration(std::time::Duration::from_millis(limit));
        let fresh = |t: Option<u64>| t.filter(|t| now.saturating_sub(*t) <= limit);
        let name = format!("periodic {}", e.name);
        let fired = e.beat.last_fire_ms;
        let failures = e.beat.consecutive_failures;
        let g = match (fresh(fired), fresh(e.last_done)) {
            (None, _) => match (fired, e.beat.next_fire_ms) {
                (None, Some(next)) if next > now => not_yet_due(
                    name,
                    format!(
                        "first fire in {}",
                        age(next.saturating_sub(now) as f64 / 1000.0)
                    ),
                ),
                (None, _) => gate(name, false, "never fired"),
                (Some(f), _) => gate(
                    name,
                    false,
                    format!("last fired {}; limit {limit_text}", ago(now, f)),
                ),
            },
            _ if failures > 0 => gate(name, false, format!("{failures} consecutive failures")),
            // Its first run has not finished yet: not a failure (yet).
            (Some(f), None) if e.last_done.is_none() && e.last_failed.is_none() => {
                match &e.last_run {
                    Some(where_) => not_yet_due(
                        name,
                        format!(
                            "fired {}, its first run is {where_}; it must succeed within {limit_text}",
                            ago(now, f)
                        ),
                    ),
                    None => gate(
                        name,
                        false,
                        format!(
                            "fired {}, but its task did not run (gone from its queue)",
                            ago(now, f)
                        ),
                    ),
                }
            }
            (Some(_), None) => gate(
                name,
                false,
                format!("{} has not succeeded within {limit_text}", e.task),
            ),
            (Some(f), Some(d)) if e.last_failed.is_some_and(|x| x > d) => gate(
                name,
                false,
                format!("fired {}, but its last run failed", ago(now, f)),
            ),
            (Some(f), Some(d)) => gate(
                name,
                true,
                format!("fired {}, succeeded {}", ago(now, f), ago(now, d)),
            ),
        };
        out.push(g);
    }
    let threshold = r.pending_threshold.as_millis();
    let mut old: Vec<(u64, i64)> = s
        .first_seen
        .iter()
        .map(|(id, ms)| (*ms, *id))
        .filter(|(ms, _)| now.saturating_sub(*ms) > threshold)
        .collect();
    old.sort();
    out.push(if old.is_empty() {
        gate(
            "no stale pending tests",
            true,
            format!(
                "{} pending, none older than {}",
                s.first_seen.len(),
                r.pending_threshold
            ),
        )
    } else {
        let list: Vec<String> = old
            .iter()
            .take(5)
            .map(|(ms, id)| {
                format!(
                    "test {id} pending {}",
                    age(now.saturating_sub(*ms) as f64 / 1000.0)
                )
            })
            .collect();
        gate(
            "no stale pending tests",
            false,
            format!(
                "{} older than {}: {}",
                old.len(),
                r.pending_threshold,
                list.join(", ")
            ),
        )
    });
    out
}

/// The gates for entering `to_stage`; an unreachable broker is a failing gate, not an error.
pub async fn check(cfg: &Config, r: &Rollout, to_stage: u8, now: u64) -> Vec<Gate> {
    let broker = match Broker::connect_with(&cfg.broker.value, &cfg.broker_options).await {
        Ok(b) => b,
        Err(e) => return vec![gate("broker reachable", false, e.to_string())],
    };
    if let Err(e) = broker.ping().await {
        return vec![gate("broker reachable", false, e.to_string())];
    }
    let mut out = vec![gate("broker reachable", true, broker.addr().to_string())];
    if to_stage <= 1 {
        return out;
    }
    match snapshot(&broker, cfg).await {
        Ok(s) => out.extend(evaluate(&s, r, now)),
        Err(e) => out.push(gate("broker readable", false, e.to_string())),
    }
    if to_stage == 2 {
        out.push(match broker.shadow_evidence().await {
            Ok(e) => shadow_gate(&e),
            Err(e) => gate("shadow evidence", false, e.to_string()),
        });
    }
    out
}

/// Stage 2 makes ciq start tests: only after the shadow stage showed that ciq saw every
/// test the cron started (and at least one).
pub fn shadow_gate(e: &crate::broker::platform::ShadowEvidence) -> Gate {
    let ok = e.started > 0 && e.missed.is_empty();
    let mut detail = e.summary();
    if e.since.is_some() && e.started == 0 {
        detail.push_str(" — wait until the cron has started at least one test");
    }
    gate("shadow evidence", ok, detail)
}

/// Can the queue start tests right now? `Ok(detail)` when the broker answers, a worker's
/// heartbeat is fresh and a beat holds the leader lease; `Err(why)` otherwise (the cron
/// guard then runs the cron as the fallback).
pub async fn queue_available(cfg: &Config, r: &Rollout, now: u64) -> Result<String, String> {
    let timeout = std::time::Duration::from_secs(3);
    let broker = tokio::time::timeout(timeout, Broker::connect(&cfg.broker.value))
        .await
        .map_err(|_| "broker did not answer within 3s".to_string())?
        .map_err(|e| format!("broker unreachable: {e}"))?;
    let read = async {
        Ok::<_, crate::broker::Error>(Snapshot {
            workers: broker.worker_heartbeats().await?,
            leader: broker.beat_leader().await?.map(|l| l.holder),
            ..Default::default()
        })
    };
    let snap = tokio::time::timeout(timeout, read)
        .await
        .map_err(|_| "broker did not answer within 3s".to_string())?
        .map_err(|e| format!("broker unreadable: {e}"))?;
    let gates: Vec<Gate> = evaluate(&snap, r, now)
        .into_iter()
        .filter(|g| g.name == "worker alive" || g.name == "beat leader")
        .collect();
    let detail = |g: &Gate| format!("{}: {}", g.name, g.detail);
    match gates.iter().find(|g| !g.ok) {
        Some(bad) => Err(detail(bad)),
        None => Ok(gates.iter().map(detail).collect::<Vec<_>>().join("; ")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn healthy_and_unhealthy_snapshots() {
        let r = crate::config::rollout::RolloutFile::default()
            .resolve()
            .unwrap();
        let now = 10_000_000;
        let beat = EntryState {
            last_fire_ms: Some(now - 30_000),
            ..Default::default()
        };
        let mut s = Snapshot {
            workers: vec![("w1".into(), now - 2_000)],
            leader: Some("h1".into()),
            entries: vec![EntrySnap {
                name: "process_pending_tests".into(),
                task: "process_pending_tests".into(),
                beat,
                last_done: Some(now - 20_000),
                last_failed: None,
                interval_ms: Some(60_000),
                last_run: None,
            }],
            first_seen: [(7, now - 60_000)].into(),
        };
        assert!(
            evaluate(&s, &r, now).iter().all(|g| g.ok),
            "{:?}",
            evaluate(&s, &r, now)
        );
        s.entries[0].last_failed = Some(now - 1_000);
        s.first_seen.insert(8, now - 16 * 60_000);
        s.leader = None;
        let bad: Vec<String> = evaluate(&s, &r, now)
            .into_iter()
            .filter(|g| !g.ok)
            .map(|g| g.name)
            .collect();
        assert_eq!(
            bad,
            [
                "beat leader",
                "periodic process_pending_tests",
                "no stale pending tests"
            ]
        );
        // An hourly entry that fired and succeeded 40 minutes ago is on time.
        s.entries[0].last_failed = None;
        s.entries[0].interval_ms = Some(3_600_000);
        s.entries[0].last_done = Some(now - 40 * 60_000);
        s.entries[0].beat.last_fire_ms = Some(now - 40 * 60_000);
        assert!(
            evaluate(&s, &r, now)[2].ok,
            "{:?}",
            evaluate(&s, &r, now)[2]
        );
        s.entries[0].interval_ms = Some(60_000);
        assert!(!evaluate(&s, &r, now)[2].ok, "a 1m entry 40m late fails");
        assert_eq!(super::cron_interval_ms("*/5 * * * *"), Some(300_000));
    }

    #[test]
    fn a_gate_reads_cron_as_the_beat_does() {
        // Shorthands, and crontab's weekdays (0 and 7 = Sunday), not the `cron` crate's.
        assert_eq!(super::cron_interval_ms("@hourly"), Some(3_600_000));
        assert_eq!(super::cron_interval_ms("@daily"), Some(86_400_000));
        let week = Some(7 * 86_400_000);
        assert_eq!(super::cron_interval_ms("0 9 * * 0"), week);
        assert_eq!(super::cron_interval_ms("0 9 * * 7"), week);
        assert_eq!(super::cron_interval_ms("@weekly"), week);
        assert_eq!(super::cron_interval_ms("not cron"), None);
    }

    #[test]
    fn a_first_run_still_on_its_way_is_not_yet_due_not_failed() {
        let r = crate::config::rollout::RolloutFile::default()
            .resolve()
            .unwrap();
        let now = 10_000_000;
        let mut s = Snapshot {
            workers: vec![("w1".into(), now - 2_000)],
            leader: Some("h1".into()),
            entries: vec![EntrySnap {
                name: "maintain".into(),
                task: "maintain".into(),
                beat: EntryState {
                    last_fire_ms: Some(now - 30_000),
                    ..Default::default()
                },
                last_run: Some("running on w1".into()),
                ..Default::default()
            }],
            first_seen: BTreeMap::new(),
        };
        let g = &evaluate(&s, &r, now)[2];
        assert!(!g.ok && g.not_yet_due, "{g:?}");
        assert_eq!(g.result(), "not yet due");
        assert!(
            g.detail.contains("its first run is running on w1")
                && !g.detail.contains("has not succeeded"),
            "{g:?}"
        );
        // Gone without a success: failed.
        s.entries[0].last_run = None;
        let g = &evaluate(&s, &r, now)[2];
        assert!(!g.ok && !g.not_yet_due, "{g:?}");
        // Never fired, first fire ahead: not yet due; first fire overdue: failed.
        s.entries[0].beat.last_fire_ms = None;
        s.entries[0].beat.next_fire_ms = Some(now + 300_000);
        let g = &evaluate(&s, &r, now)[2];
        assert!(
            g.not_yet_due && g.detail.starts_with("first fire in"),
            "{g:?}"
        );
        s.entries[0].beat.next_fire_ms = Some(now - 1);
        let g = &evaluate(&s, &r, now)[2];
        assert!(!g.not_yet_due && g.detail == "never fired", "{g:?}");
        // A success before, a failure after: failed, whatever is queued now.
        s.entries[0].beat.last_fire_ms = Some(now - 30_000);
        s.entries[0].last_failed = Some(now - 10_000);
        s.entries[0].last_run = Some("waiting in its queue".into());
        assert!(!evaluate(&s, &r, now)[2].not_yet_due);
    }
}
