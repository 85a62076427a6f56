//! The periodic scheduler. Every tick each beat takes or renews the leader lease; the
//! leader plans each entry's due fire times (`plan`) and fires each one as a fenced claim
//! of the (entry, fire time) in beat's slot, an idempotent enqueue in the task's queue,
//! and a settle step (`broker::beat`), so a tick is fired once even with several beats,
//! a stale leader, a lost reply or a crash between the steps.
//!
//! Fire times are judged by the Redis server's clock (read with the lease on every pass),
//! never by this host's, so a beat with a wrong clock neither fires early nor late.
//!
//! `run` takes the shutdown signal as a parameter so `ciq up` and tests can stop it;
//! on stop the lease is released at once so a standby takes over without waiting.

mod leader;
pub mod plan;
mod tick;

use crate::backoff::Backoff;
use crate::broker::{self, Broker};
use crate::config::schedule::DEFAULT_CATCH_UP_MAX;
use crate::config::Config;
use crate::cron::Rule;
use crate::shutdown::Shutdown;
use plan::Policy;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::watch;

/// The Redis server's clock as read once per pass, advanced by this host's monotonic
/// clock in between (a pass takes milliseconds, so drift does not matter).
#[derive(Debug, Clone, Copy)]
struct RedisClock {
    ms: u64,
    at: Instant,
}

impl RedisClock {
    fn now(&self) -> u64 {
        self.ms + self.at.elapsed().as_millis() as u64
    }
}

#[derive(Debug, Clone)]
pub struct BeatOptions {
    /// Unique per process (`name@host:pid:xxxx`): the lease holder.
    pub id: String,
    pub lease: Duration,
    pub tick: Duration,
    /// Fires kept per entry in the history list.
    pub history: usize,
    /// Fire what is due now, then release the lease and return (crontab use).
    pub once: bool,
    /// Counts this process's fires per entry (`ciq_beat_fires_total`).
    pub fires: crate::metrics::beat::Fires,
}

impl BeatOptions {
    pub fn from_config(cfg: &Config, id: String) -> Self {
        BeatOptions {
            id,
            lease: cfg.beat.lease.0,
            tick: cfg.beat.tick.0,
            history: cfg.beat.history,
            once: false,
            fires: Default::default(),
        }
    }
}

/// A resolved schedule entry.
#[derive(Debug, Clone)]
pub struct Entry {
    pub name: String,
    pub task: String,
    pub args: crate::submit::Args,
    pub queue: Option<String>,
    pub rule: Rule,
    /// `rule.describe()`, stored beside the cursor to notice an edited schedule.
    pub schedule: String,
    pub policy: Policy,
}

/// The configured entries; `grace` is how late a `skip` entry may still fire.
pub fn entries(cfg: &Config, grace: Duration) -> Result<Vec<Entry>, String> {
    cfg.schedule
        .iter()
        .map(|(name, f)| {
            let rule = Rule::parse(
                f.every.map(|d| d.0),
                f.cron.as_deref(),
                f.timezone.as_deref(),
            )
            .map_err(|(field, m)| format!("schedule.{name}.{field}: {m}"))?;
            Ok(Entry {
                name: name.clone(),
                task: f.task_name(name).to_string(),
                args: f.args.clone(),
                queue: f.queue.clone(),
                schedule: rule.describe(),
                rule,
                policy: Policy {
                    catch_up: f.catch_up,
                    max: f.catch_up_max.unwrap_or(DEFAULT_CATCH_UP_MAX),
                    grace_ms: grace.as_millis() as u64,
                },
            })
        })
        .collect()
}

/// Runs the beat until `shutdown` leaves `Run` (or after one pass with `opts.once`).
pub async fn run(
    cfg: Arc<Config>,
    broker: Broker,
    opts: BeatOptions,
    mut shutdown: watch::Receiver<Shutdown>,
) -> broker::Result<()> {
    let entries = entries(&cfg, opts.lease + opts.tick).map_err(broker::Error::Invalid)?;
    warn_unserved_queues(&cfg, &entries);
    let mut leader = leader::Leader::new(opts.id.clone(), opts.lease);
    tracing::info!(
        beat = %opts.id, broker = %broker.addr(), entries = entries.len(),
        lease = ?opts.lease, tick = ?opts.tick, once = opts.once,
        "beat started"
    );
    if !legacy_handover(&broker, &opts, &entries, &mut shutdown).await? {
        return Ok(());
    }
    let mut backoff = Backoff::new(opts.tick, Duration::from_secs(5).max(opts.tick));
    // Until a pass has worked, an ACL or login refusal is a configuration error: exit
    // with it (exit 3) instead of retrying forever. Later ones are retried (and logged).
    let mut worked = false;
    let result = loop {
        if *shutdown.borrow() != Shutdown::Run {
            break Ok(());
        }
        // A pass stuck on an unreachable Redis must not delay a stop; cancelling it is
        // safe because each fire is one atomic script (it ran or it did not).
        let outcome = tokio::select! {
            r = pass(&cfg, &broker, &opts, &entries, &mut leader) => r,
            _ = changed(&mut shutdown) => continue,
        };
        let wait = match outcome {
            Ok((next, clock)) => {
                worked = true;
                backoff.reset();
                let until_next = next.map(|n| Duration::from_millis(n.saturating_sub(clock.now())));
                until_next.map_or(opts.tick, |d| d.clamp(Duration::from_millis(5), opts.tick))
            }
            Err(e) if opts.once || (e.is_access() && !worked) => break Err(e),
            Err(e) => {
                let wait = backoff.next_wait();
                tracing::warn!(error = %e, retry_in = ?wait, "beat pass failed; retrying (nothing fires meanwhile)");
                wait
            }
        };
        if opts.once {
            break Ok(());
        }
        tokio::select! {
            _ = tokio::time::sleep(wait) => {},
            _ = changed(&mut shutdown) => {},
        }
    };
    if tokio::time::timeout(Duration::from_secs(2), leader.release(&broker))
        .await
        .is_err()
    {
        tracing::warn!(beat = %opts.id, "could not release the lease in time; it expires on its own");
    }
    tracing::info!(beat = %opts.id, "beat stopped");
    result
}

/// Upgrading from a ciq whose beat keys had no `{beat}` tag: while an older beat still
/// holds its lease, stand by (two leaders would fire the same ticks); then adopt its
/// per-entry state. False when stopped (or `--once`) while the older beat still leads.
async fn legacy_handover(
    broker: &Broker,
    opts: &BeatOptions,
    entries: &[Entry],
    shutdown: &mut watch::Receiver<Shutdown>,
) -> broker::Result<bool> {
    let mut warned = false;
    while let Some(holder) = broker.legacy_beat_leader().await? {
        if !warned {
            tracing::warn!(beat = %opts.id, %holder, "a beat of an older ciq version holds the lease (ciq:beat:leader): standing by until it stops; upgrade or stop it");
            warned = true;
        }
        if opts.once {
            return Ok(false);
        }
        tokio::select! {
            _ = tokio::time::sleep(opts.tick) => {},
            _ = changed(shutdown) => {},
        }
        if *shutdown.borrow() != Shutdown::Run {
            return Ok(false);
        }
    }
    let names: Vec<&str> = entries.iter().map(|e| e.name.as_str()).collect();
    let adopted = broker.adopt_legacy_beat_state(&names).await?;
    if adopted > 0 {
        tracing::info!(beat = %opts.id, adopted, "adopted the schedule state of an older ciq version's beat");
    }
    Ok(true)
}

/// An entry whose queue no configured worker consumes would pile up unnoticed.
fn warn_unserved_queues(cfg: &Config, entries: &[Entry]) {
    let served = cfg.queue_names();
    for e in entries {
        let queue = e
            .queue
            .clone()
            .or_else(|| cfg.task(&e.task).map(|t| t.queue.clone()))
            .unwrap_or_default();
        if !served.contains(&queue) {
            tracing::warn!(entry = %e.name, %queue, "this entry's queue is not in [queues]: workers using the config's queues will not run its tasks");
        }
    }
}

/// Resolves when the shutdown level changes; never, once its sender is gone (no stop
/// can come any more, and a closed channel must not turn the loop into a spin).
async fn changed(rx: &mut watch::Receiver<Shutdown>) {
    if rx.changed().await.is_err() {
        std::future::pending::<()>().await;
    }
}

/// One tick: lease, then (when leading) every entry. Returns the earliest next fire and
/// the Redis clock it is measured by.
async fn pass(
    cfg: &Config,
    broker: &Broker,
    opts: &BeatOptions,
    entries: &[Entry],
    leader: &mut leader::Leader,
) -> broker::Result<(Option<u64>, RedisClock)> {
    let (token, redis_now) = leader.ensure(broker).await?;
    let clock = RedisClock {
        ms: redis_now,
        at: Instant::now(),
    };
    let Some(token) = token else {
        if opts.once {
            tracing::info!("another beat holds the lease and fires due entries; nothing to do");
        }
        return Ok((None, clock));
    };
    let cx = tick::TickCtx {
        cfg,
        broker,
        holder: &leader.id,
        token,
        history: opts.history,
        fire_unseen: opts.once,
        late_after_ms: (opts.tick * 2).as_millis() as u64,
        fires: &opts.fires,
    };
    let mut earliest: Option<u64> = None;
    for e in entries {
        match tick::entry(&cx, e, clock.now()).await? {
            tick::Step::Next(n) => {
                earliest = match (earliest, n) {
                    (Some(a), Some(b)) => Some(a.min(b)),
                    (a, b) => a.or(b),
                }
            }
            tick::Step::LostLease => {
                leader.lost();
                return Ok((None, clock));
            }
        }
    }
    Ok((earliest, clock))
}
