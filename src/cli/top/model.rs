//! What `ciq top` shows, read from Redis once per refresh: `status`'s snapshot (broker,
//! workers, beat, queue depths, problems), plus per-queue counters turned into rates,
//! what each worker runs now, recent dead tasks and the next periodic ticks.

use crate::broker::tasks::State;
use crate::broker::{now_ms, Broker};
use crate::cli::status::{self, Status};
use crate::cli::Ctx;
use std::collections::{BTreeMap, HashMap, VecDeque};
use std::time::Instant;

/// Samples of the rate history kept per queue (one per refresh).
pub const HISTORY: usize = 60;

/// Done, failed, retried per second of one queue, over the last refresh.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Rates {
    pub done: f64,
    pub failed: f64,
    pub retried: f64,
}

/// A task running now, for the workers pane.
#[derive(Debug, Clone)]
pub struct Running {
    pub id: String,
    pub task: String,
    pub runtime_s: f64,
}

/// A recent dead task, for the dead pane.
#[derive(Debug, Clone)]
pub struct DeadRow {
    pub id: String,
    pub task: String,
    pub queue: String,
    pub died_ms: u64,
    /// The task's last error (what went wrong), else why it died.
    pub error: String,
}

/// A periodic entry's next tick.
#[derive(Debug, Clone)]
pub struct Tick {
    pub entry: String,
    pub next_ms: Option<u64>,
}

/// One refresh's view.
pub struct Snapshot {
    pub status: Status,
    pub rates: BTreeMap<String, Rates>,
    /// worker id -> tasks it runs now.
    pub running: HashMap<String, Vec<Running>>,
    /// The newest dead tasks over all queues, newest first (up to [`DEAD_ROWS`]).
    pub dead: Vec<DeadRow>,
    /// Dead tasks in all queues (more than `dead` holds when there are many).
    pub dead_total: u64,
    pub ticks: Vec<Tick>,
    pub at_ms: u64,
    /// How often workers send a heartbeat (s): an older one is late.
    pub heartbeat_s: f64,
}

/// Dead tasks read per refresh: more than a tall terminal shows.
pub const DEAD_ROWS: usize = 40;

/// Counters from the previous refresh, to turn totals into rates.
#[derive(Default)]
pub struct RateState {
    last: HashMap<String, (Instant, [u64; 3])>,
    /// queue -> done/s samples, oldest first.
    pub history: HashMap<String, VecDeque<u64>>,
}

impl RateState {
    fn update(&mut self, queue: &str, counts: [u64; 3]) -> Rates {
        let now = Instant::now();
        let r = match self.last.get(queue) {
            Some((t, prev)) => {
                let dt = now.duration_since(*t).as_secs_f64().max(0.001);
                let d = |i: usize| counts[i].saturating_sub(prev[i]) as f64 / dt;
                Rates {
                    done: d(0),
                    failed: d(1),
                    retried: d(2),
                }
            }
            None => Rates::default(),
        };
        self.last.insert(queue.to_string(), (now, counts));
        let h = self.history.entry(queue.to_string()).or_default();
        h.push_back(r.done.round() as u64);
        while h.len() > HISTORY {
            h.pop_front();
        }
        r
    }
}

/// Reads everything once. `stuck_after_s` is status's "pending too long" threshold.
pub async fn collect(
    ctx: &Ctx,
    broker: &Broker,
    rates: &mut RateState,
    stuck_after_s: f64,
) -> Snapshot {
    let status = status::collect(ctx, stuck_after_s).await;
    let mut snap = Snapshot {
        status,
        rates: BTreeMap::new(),
        running: HashMap::new(),
        dead: vec![],
        dead_total: 0,
        ticks: vec![],
        at_ms: now_ms(),
        heartbeat_s: ctx.config.worker.heartbeat.as_millis() as f64 / 1000.0,
    };
    snap.dead_total = snap.status.queues.iter().map(|d| d.dead).sum();
    if !snap.status.broker.reachable {
        return snap;
    }
    let now = now_ms();
    let names: Vec<String> = snap.status.queues.iter().map(|d| d.queue.clone()).collect();
    for q in &names {
        if let Ok(s) = broker.stats(q).await {
            let c = |k: &str| s.get(k).copied().unwrap_or(0);
            let r = rates.update(q, [c("done"), c("failed") + c("dead"), c("retried")]);
            snap.rates.insert(q.clone(), r);
        }
        for t in broker.active(q).await.unwrap_or_default() {
            snap.running
                .entry(t.worker.clone())
                .or_default()
                .push(Running {
                    task: t
                        .envelope
                        .as_ref()
                        .map(|e| e.task.clone())
                        .unwrap_or_else(|| "?".into()),
                    runtime_s: now.saturating_sub(t.claimed_at_ms) as f64 / 1000.0,
                    id: t.id,
                });
        }
        let newest = broker.newest(q, State::Dead, DEAD_ROWS as isize).await;
        for t in newest.unwrap_or_default() {
            let e = t.envelope.as_ref();
            snap.dead.push(DeadRow {
                task: e
                    .map(|e| e.task.clone())
                    .unwrap_or_else(|| "(undecodable)".into()),
                error: e
                    .and_then(|e| e.last_error.clone().or_else(|| e.reason.clone()))
                    .unwrap_or_else(|| "undecodable message".into()),
                queue: t.queue,
                died_ms: t.score_ms,
                id: t.id,
            });
        }
    }
    snap.dead.sort_by_key(|d| std::cmp::Reverse(d.died_ms));
    snap.dead.truncate(DEAD_ROWS);
    if let Ok(entries) = crate::beat::entries(&ctx.config, ctx.config.beat.lease.0) {
        for e in entries {
            let next = broker
                .beat_entry(&e.name)
                .await
                .ok()
                .and_then(|s| s.next_fire_ms);
            snap.ticks.push(Tick {
                entry: e.name,
                next_ms: next,
            });
        }
        snap.ticks.sort_by_key(|t| t.next_ms.unwrap_or(u64::MAX));
    }
    snap
}
