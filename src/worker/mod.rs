//! The worker: claims tasks (leased atomically), runs them through handlers, records
//! outcomes in batches, renews leases, recovers expired ones, promotes delayed tasks
//! and shuts down without losing anything.
//!
//! `run` takes the shutdown signal as a parameter (a watch channel) so tests can stop it.

mod drain;
mod fencing;
mod finisher;
pub mod handler;
mod health;
mod maintenance;
pub use maintenance::CLOCK_SKEW_WARN_MS;
mod metrics;
mod outbox;
pub mod policy;
mod settle;
mod task;
mod waiter;

use crate::backoff::Backoff;
use crate::broker::{self, now_ms, Broker, Envelope, QueueKeys};
use crate::config::{Config, QueueConfig};
use crate::shutdown::Shutdown;
use handler::TaskHandler;
use rand::Rng;
use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::{mpsc, watch, Notify, Semaphore};

#[derive(Debug, Clone)]
pub struct WorkerOptions {
    pub id: String,
    pub queues: Vec<QueueConfig>,
    pub concurrency: usize,
    pub lease: Duration,
    pub heartbeat: Duration,
    pub sweep: Duration,
    /// How long one worker keeps a queue's upkeep (promote + sweep) without renewing.
    pub upkeep_lease: Duration,
    pub shutdown_timeout: Duration,
    pub max_deliveries: u32,
    pub dead_max: u64,
    /// Ended tasks' histories kept per queue (`inspect task`).
    pub history: crate::broker::finish::HistoryLimits,
    /// Serve Prometheus metrics here (`--metrics-addr`).
    pub metrics_addr: Option<std::net::SocketAddr>,
    /// More metrics for the same endpoint (`ciq up` adds its beat's).
    pub extra_metrics: Vec<crate::metrics::Part>,
}

impl WorkerOptions {
    pub fn from_config(cfg: &Config, id: String) -> Self {
        let w = &cfg.worker;
        WorkerOptions {
            id,
            queues: cfg.queues.value.clone(),
            concurrency: w.concurrency,
            lease: w.lease.0,
            heartbeat: w.heartbeat.0,
            sweep: w.sweep.0,
            upkeep_lease: w.upkeep_lease.0,
            shutdown_timeout: w.shutdown_timeout.0,
            max_deliveries: w.max_deliveries,
            dead_max: w.dead_max,
            history: crate::broker::finish::HistoryLimits {
                retention_ms: w.history_retention.as_millis(),
                max: w.history_max,
            },
            metrics_addr: w.metrics_addr,
            extra_metrics: vec![],
        }
    }
}

/// `host:pid:xxxx` — unique per process, readable in `inspect active`.
pub fn default_worker_id(name: Option<&str>) -> String {
    let host = gethostname::gethostname().to_string_lossy().into_owned();
    let tag: u16 = rand::thread_rng().gen();
    match name {
        Some(n) => format!("{n}@{host}:{}:{tag:04x}", std::process::id()),
        None => format!("{host}:{}:{tag:04x}", std::process::id()),
    }
}

#[derive(Debug, Default, Clone, serde::Serialize)]
pub struct Summary {
    pub done: u64,
    pub retried: u64,
    pub failed: u64,
    pub requeued: u64,
}

/// One run of a task. Claim tokens are counted per queue, so a run is named by its
/// queue (index into the worker's queues) and its token together: two queues hand out
/// the same token numbers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) struct RunId {
    pub queue: usize,
    pub token: u64,
}

/// The worker's maps of runs, looked up a few times per task: keyed by two integers
/// (the token alone is nearly unique), so a multiply-and-rotate hash does (not SipHash).
type RunMap<V> = HashMap<RunId, V, std::hash::BuildHasherDefault<RunHasher>>;

#[derive(Default)]
pub(crate) struct RunHasher(u64);

impl std::hash::Hasher for RunHasher {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.write_u64(b.into());
        }
    }

    fn write_u64(&mut self, n: u64) {
        self.0 = (self.0.rotate_left(5) ^ n).wrapping_mul(0x517c_c1b7_2722_0a95);
    }

    fn write_usize(&mut self, n: usize) {
        self.write_u64(n as u64);
    }
}

/// A run whose handler is still going.
struct Running {
    env: Arc<Envelope>,
    started: Instant,
    task: Option<tokio::task::JoinHandle<()>>,
    /// The run's fence (see `runner::fence`): moved forward at each renewal.
    fence: watch::Sender<crate::runner::fence::FenceState>,
    /// Why this worker stopped the run itself, once it did: its outcome is not used.
    fenced: Option<String>,
}

/// A run this worker holds a lease for (running, or its outcome not yet recorded).
pub(crate) struct Lease {
    id: String,
    /// When the claim or last successful renewal was sent (this host's monotonic clock).
    renewed: Instant,
}

/// State shared by the loops of one worker.
pub(crate) struct Shared {
    opts: WorkerOptions,
    /// Shared with each run's handler (`TaskContext::broker`) without copying it.
    broker: Arc<Broker>,
    config: Arc<Config>,
    handlers: Vec<Arc<dyn TaskHandler>>,
    queues: Vec<Arc<QueueKeys>>,
    /// Runs whose handler is still going (a task may be claimed again, even by this
    /// worker, after its lease expired: each run is told apart by its id). Lock order:
    /// `leased` before `running`.
    running: Mutex<RunMap<Running>>,
    /// Runs this worker holds a lease for (running or waiting for their outcome to be
    /// recorded).
    leased: Mutex<RunMap<Lease>>,
    /// The earliest fencing deadline of the running runs, as last computed (a lower bound:
    /// runs started since have later ones).
    fence_next: Mutex<Option<Instant>>,
    /// This host's clock minus the Redis server's (ms), measured at each heartbeat.
    clock_skew_ms: std::sync::atomic::AtomicI64,
    paused: Mutex<HashSet<String>>,
    /// True while the fetch loop waits for work (the waiters block only then).
    idle: watch::Sender<bool>,
    /// Index+1 of the queue whose waiter saw work last (0 = none): tried first.
    hint: std::sync::atomic::AtomicUsize,
    /// The last claim got all it asked for: there is probably more pending, so the
    /// finisher claims for the slots it frees in the round trip that records their
    /// outcomes (see `finisher`).
    more: std::sync::atomic::AtomicBool,
    /// Queues whose last claim came back empty, and when (see `next_queue`).
    empty: Mutex<HashMap<usize, Instant>>,
    wake: Notify,
    finish_tx: mpsc::UnboundedSender<outbox::Msg>,
    shutdown: watch::Receiver<Shutdown>,
    started_ms: u64,
    done: AtomicU64,
    retried: AtomicU64,
    failed: AtomicU64,
    requeued: AtomicU64,
    metrics: metrics::Metrics,
    /// Access problems (ACL, login) Redis reports for this worker, for its heartbeat.
    health: health::Health,
    /// While stopping: what the stop waits for (published with the heartbeat).
    stopping: Mutex<Option<drain::Stopping>>,
}

/// Runs a worker until `shutdown` says stop; returns what it did.
pub async fn run(
    opts: WorkerOptions,
    config: Arc<Config>,
    broker: Broker,
    handlers: Vec<Arc<dyn TaskHandler>>,
    shutdown: watch::Receiver<Shutdown>,
) -> broker::Result<Summary> {
    let (finish_tx, finish_rx) = mpsc::unbounded_channel();
    let queues = opts
        .queues
        .iter()
        .map(|q| Arc::new(QueueKeys::new(&q.name)))
        .collect();
    let shared = Arc::new(Shared {
        opts,
        broker: Arc::new(broker),
        config,
        handlers,
        queues,
        running: Mutex::default(),
        leased: Mutex::default(),
        fence_next: Mutex::new(None),
        paused: Mutex::new(HashSet::new()),
        idle: watch::channel(false).0,
        hint: std::sync::atomic::AtomicUsize::new(0),
        more: std::sync::atomic::AtomicBool::new(false),
        empty: Mutex::new(HashMap::new()),
        wake: Notify::new(),
        finish_tx,
        shutdown,
        started_ms: now_ms(),
        clock_skew_ms: std::sync::atomic::AtomicI64::new(0),
        done: AtomicU64::new(0),
        retried: AtomicU64::new(0),
        failed: AtomicU64::new(0),
        requeued: AtomicU64::new(0),
        metrics: metrics::Metrics::default(),
        health: health::Health::default(),
        stopping: Mutex::new(None),
    });
    health::preflight(&shared.broker, &shared.queues).await?;
    tracing::info!(
        worker = %shared.opts.id,
        broker = %shared.broker.addr(),
        queues = %shared.opts.queues.iter().map(|q| format!("{}:{}", q.name, q.weight)).collect::<Vec<_>>().join(","),
        concurrency = shared.opts.concurrency,
        "worker started"
    );
    let metrics_listener = match shared.opts.metrics_addr {
        Some(addr) => Some(crate::metrics::bind(addr).await?),
        None => None,
    };
    let finisher = tokio::spawn(finisher::run(shared.clone(), finish_rx));
    let mut background = maintenance::spawn_all(shared.clone());
    background.push(tokio::spawn(fencing::run(shared.clone())));
    if let Some(l) = metrics_listener {
        tracing::info!(addr = %shared.opts.metrics_addr.map(|a| a.to_string()).unwrap_or_default(), "serving Prometheus metrics");
        let mut parts = vec![
            metrics::part(shared.clone()),
            crate::metrics::cluster(
                Broker::clone(&shared.broker),
                shared.opts.queues.iter().map(|q| q.name.clone()).collect(),
                shared.opts.heartbeat,
            ),
        ];
        parts.extend(shared.opts.extra_metrics.iter().cloned());
        background.push(tokio::spawn(crate::metrics::serve(l, parts)));
    }
    background.extend(waiter::spawn_all(shared.clone()));

    fetch_loop(&shared).await;
    drain::drain(&shared).await;

    let _ = shared.finish_tx.send(outbox::Msg::Stop);
    let _ = finisher.await;
    for h in background {
        h.abort();
    }
    maintenance::release(&shared).await;
    if let Err(e) = shared.broker.worker_gone(&shared.opts.id).await {
        tracing::warn!(error = %e, "could not deregister worker");
    }
    let s = Summary {
        done: shared.done.load(Ordering::Relaxed),
        retried: shared.retried.load(Ordering::Relaxed),
        failed: shared.failed.load(Ordering::Relaxed),
        requeued: shared.requeued.load(Ordering::Relaxed),
    };
    tracing::info!(worker = %shared.opts.id, done = s.done, retried = s.retried, failed = s.failed, requeued = s.requeued, "worker stopped");
    Ok(s)
}

impl Shared {
    fn stopping(&self) -> bool {
        *self.shutdown.borrow() != Shutdown::Run
    }

    /// Queue indexes in weighted random order (higher weight is tried first more often).
    fn queue_order(&self) -> Vec<usize> {
        let mut rest: Vec<usize> = (0..self.queues.len()).collect();
        let mut out = Vec::with_capacity(rest.len());
        let mut rng = rand::thread_rng();
        while !rest.is_empty() {
            let total: u32 = rest.iter().map(|&i| self.opts.queues[i].weight).sum();
            let mut pick = rng.gen_range(0..total.max(1));
            let mut chosen = 0;
            for (pos, &i) in rest.iter().enumerate() {
                let w = self.opts.queues[i].weight;
                if pick < w {
                    chosen = pos;
                    break;
                }
                pick -= w;
            }
            out.push(rest.remove(chosen));
        }
        out
    }

    pub(crate) fn is_paused(&self, q: &str) -> bool {
        self.paused.lock().unwrap().contains(q)
    }

    /// The queue a claim sent with outcomes tries (see `finisher`): the first in weighted
    /// random order that was not found empty within the last `EMPTY_FOR` (so a busy
    /// worker still looks at its other queues that often).
    fn next_queue(&self) -> usize {
        let order = self.queue_order();
        let empty = self.empty.lock().unwrap();
        order
            .iter()
            .copied()
            .find(|q| empty.get(q).is_none_or(|t| t.elapsed() >= EMPTY_FOR))
            .or(order.first().copied())
            .unwrap_or(0)
    }

    /// Notes what a claim on queue `i` found.
    fn found(&self, i: usize, any: bool) {
        let mut empty = self.empty.lock().unwrap();
        if any {
            empty.remove(&i);
        } else {
            empty.insert(i, Instant::now());
        }
    }

    /// Claims up to `n` tasks from the first queue (in weighted order) that has any;
    /// a queue a waiter just saw work in goes first (saves round trips on idle pickup).
    /// Returns the time the claim was sent with the runs (their leases start no earlier).
    async fn claim(&self, n: usize) -> broker::Result<(Instant, Vec<(RunId, String)>)> {
        let mut order = self.queue_order();
        if let Some(i) = self.hint.swap(0, Ordering::Relaxed).checked_sub(1) {
            order.retain(|&q| q != i);
            order.insert(0, i);
        }
        for i in order {
            let q = &self.queues[i];
            let sent = Instant::now();
            match self
                .broker
                .claim(q, &self.opts.id, n, self.opts.lease)
                .await?
            {
                broker::claim::Claim::Paused => {
                    self.paused.lock().unwrap().insert(q.name.clone());
                }
                broker::claim::Claim::Tasks(v) => {
                    self.paused.lock().unwrap().remove(&q.name);
                    self.found(i, !v.is_empty());
                    if !v.is_empty() {
                        self.more.store(v.len() >= n, Ordering::Relaxed);
                        let runs = v
                            .into_iter()
                            .map(|(token, e)| (RunId { queue: i, token }, e));
                        return Ok((sent, runs.collect()));
                    }
                }
            }
        }
        self.more.store(false, Ordering::Relaxed);
        Ok((Instant::now(), vec![]))
    }
}

/// How long a queue found empty is not tried by claims sent with outcomes.
const EMPTY_FOR: Duration = Duration::from_millis(100);

/// How often an idle worker claims without being woken (a safety net for the waiters).
const IDLE_RECHECK: Duration = Duration::from_secs(60);

async fn fetch_loop(shared: &Arc<Shared>) {
    let sem = Arc::new(Semaphore::new(shared.opts.concurrency));
    let mut shutdown = shared.shutdown.clone();
    let mut backoff = Backoff::new(Duration::from_millis(100), Duration::from_secs(5));
    while !shared.stopping() {
        let first = tokio::select! {
            p = sem.clone().acquire_owned() => match p { Ok(p) => p, Err(_) => break },
            r = shutdown.changed() => if r.is_err() { break } else { continue },
        };
        let mut permits = vec![first];
        while let Ok(p) = sem.clone().try_acquire_owned() {
            permits.push(p);
        }
        // Never claim while a run this worker can no longer vouch for is still going
        // (after a SIGSTOP, the claim could otherwise come before the fencing loop).
        fencing::check_now(shared).await;
        match shared.claim(permits.len()).await {
            Err(e) => {
                drop(permits);
                shared.health.note(&e);
                let wait = backoff.next_wait();
                tracing::warn!(error = %e, retry_in = ?wait, "cannot claim tasks; retrying");
                tokio::select! {
                    _ = tokio::time::sleep(wait) => {},
                    r = shutdown.changed() => if r.is_err() { break },
                }
            }
            Ok((_, tasks)) if tasks.is_empty() => {
                shared.health.clear();
                drop(permits);
                backoff.reset();
                waiter::set_idle(shared, true);
                tokio::select! {
                    _ = shared.wake.notified() => {},
                    // The waiters wake this loop; the timer only backs them up.
                    _ = tokio::time::sleep(IDLE_RECHECK) => {},
                    r = shutdown.changed() => if r.is_err() { break },
                }
                waiter::set_idle(shared, false);
            }
            Ok((sent, tasks)) => {
                shared.health.clear();
                backoff.reset();
                permits.truncate(tasks.len());
                for ((run, raw), permit) in tasks.into_iter().zip(permits) {
                    task::start_task(shared, run, sent, raw, permit);
                }
            }
        }
    }
}
