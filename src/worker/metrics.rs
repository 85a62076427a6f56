//! Prometheus metrics of one worker process, served on `--metrics-addr` by
//! `crate::metrics::serve` with the cluster gauges (prometheus-client families).
//! Counters are this process's own (Prometheus sums across processes).

use super::Shared;
use crate::metrics::QueueLabel;
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;
use std::collections::HashMap;
use std::sync::atomic::AtomicI64;
use std::sync::{Arc, Mutex};

/// Run-time histogram bucket bounds, seconds.
const BUCKETS: [f64; 12] = [
    0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1.0, 5.0, 30.0, 60.0, 300.0, 1800.0,
];

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct Outcome {
    task: String,
    queue: String,
    outcome: String,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct TaskQueue {
    task: String,
    queue: String,
}

fn runtime_histogram() -> Histogram {
    Histogram::new(BUCKETS)
}

/// This process's counters; each scrape registers them (they are shared handles) with
/// the in-flight gauge into a fresh registry.
pub(crate) struct Metrics {
    outcomes: Family<Outcome, Counter>,
    runtime: Family<TaskQueue, Histogram, fn() -> Histogram>,
    recovered: Family<QueueLabel, Counter>,
    /// The series `record` counts into, by queue and task: handles on the families'
    /// own metrics (created there the first time), so a run is counted without building
    /// its label sets again.
    series: Mutex<HashMap<String, HashMap<String, Series>>>,
}

/// One task's series on one queue.
struct Series {
    runtime: Histogram,
    /// `ciq_tasks` by outcome label, as they were first counted.
    outcomes: Vec<(&'static str, Counter)>,
}

impl Default for Metrics {
    fn default() -> Self {
        Metrics {
            outcomes: Family::default(),
            runtime: Family::new_with_constructor(runtime_histogram),
            recovered: Family::default(),
            series: Mutex::default(),
        }
    }
}

impl Metrics {
    pub(crate) fn record(&self, task: &str, queue: &str, outcome: &'static str, secs: f64) {
        let mut series = self.series.lock().unwrap();
        let by_task = match series.get_mut(queue) {
            Some(t) => t,
            None => series.entry(queue.to_string()).or_default(),
        };
        let s = match by_task.get_mut(task) {
            Some(s) => s,
            None => by_task.entry(task.to_string()).or_insert_with(|| Series {
                runtime: self
                    .runtime
                    .get_or_create(&TaskQueue {
                        task: task.into(),
                        queue: queue.into(),
                    })
                    .clone(),
                outcomes: Vec::new(),
            }),
        };
        let counter = match s.outcomes.iter().position(|(o, _)| *o == outcome) {
            Some(i) => &s.outcomes[i].1,
            None => {
                let c = self
                    .outcomes
                    .get_or_create(&Outcome {
                        task: task.into(),
                        queue: queue.into(),
                        outcome: outcome.into(),
                    })
                    .clone();
                s.outcomes.push((outcome, c));
                &s.outcomes[s.outcomes.len() - 1].1
            }
        };
        counter.inc();
        s.runtime.observe(secs);
    }

    pub(crate) fn recovered(&self, queue: &str, n: u64) {
        self.recovered
            .get_or_create(&QueueLabel {
                queue: queue.into(),
            })
            .inc_by(n);
    }
}

fn render(shared: &Shared) -> String {
    let m = &shared.metrics;
    let mut reg = Registry::default();
    reg.register(
        "ciq_tasks",
        "Tasks finished by this worker, by outcome (done, retried, failed, dead)",
        m.outcomes.clone(),
    );
    reg.register(
        "ciq_task_runtime_seconds",
        "Time from start to outcome of a task",
        m.runtime.clone(),
    );
    // Every served queue appears (at 0 until a recovery), so rates and alerts see it.
    for q in &shared.queues {
        let _ = m.recovered.get_or_create(&QueueLabel {
            queue: q.name.clone(),
        });
    }
    reg.register(
        "ciq_lease_recoveries",
        "Tasks this worker's sweeper recovered after their worker died",
        m.recovered.clone(),
    );
    let in_flight = Gauge::<i64, AtomicI64>::default();
    in_flight.set(shared.running.lock().unwrap().len() as i64);
    reg.register(
        "ciq_tasks_in_flight",
        "Tasks this worker is running now",
        in_flight,
    );
    crate::metrics::encode(&reg)
}

/// This worker's part of `/metrics`; `metrics::cluster` adds the Redis-wide gauges.
pub(crate) fn part(shared: Arc<Shared>) -> crate::metrics::Part {
    crate::metrics::Part::new(move || {
        let s = shared.clone();
        async move { render(&s) }
    })
}
