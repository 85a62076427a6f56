//! Prometheus metrics of one worker process, served on `--metrics-addr` by
//! `crate::metrics::serve` with the cluster gauges. Counters are this process's own
//! (Prometheus sums across processes).

use super::Shared;
use crate::metrics::esc;
use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::{Arc, Mutex};

/// Run-time histogram bucket bounds, seconds.
const BUCKETS: [f64; 12] = [
    0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1.0, 5.0, 30.0, 60.0, 300.0, 1800.0,
];

#[derive(Default)]
struct Histogram {
    counts: [u64; BUCKETS.len()],
    sum: f64,
    total: u64,
}

#[derive(Default)]
pub(crate) struct Metrics {
    /// (task, queue, outcome) -> count
    outcomes: Mutex<BTreeMap<(String, String, &'static str), u64>>,
    runtime: Mutex<BTreeMap<(String, String), Histogram>>,
    recovered: Mutex<BTreeMap<String, u64>>,
}

impl Metrics {
    pub(crate) fn record(&self, task: &str, queue: &str, outcome: &'static str, secs: f64) {
        *self
            .outcomes
            .lock()
            .unwrap()
            .entry((task.into(), queue.into(), outcome))
            .or_default() += 1;
        let mut h = self.runtime.lock().unwrap();
        let h = h.entry((task.into(), queue.into())).or_default();
        for (i, b) in BUCKETS.iter().enumerate() {
            if secs <= *b {
                h.counts[i] += 1;
            }
        }
        h.sum += secs;
        h.total += 1;
    }

    pub(crate) fn recovered(&self, queue: &str, n: u64) {
        *self
            .recovered
            .lock()
            .unwrap()
            .entry(queue.into())
            .or_default() += n;
    }
}

fn render(shared: &Shared) -> String {
    let m = &shared.metrics;
    let mut o = String::new();
    o.push_str("# HELP ciq_tasks_total Tasks finished by this worker, by outcome (done, retried, failed, dead).\n# TYPE ciq_tasks_total counter\n");
    for ((t, q, outcome), n) in m.outcomes.lock().unwrap().iter() {
        let _ = writeln!(
            o,
            "ciq_tasks_total{{task=\"{}\",queue=\"{}\",outcome=\"{outcome}\"}} {n}",
            esc(t),
            esc(q)
        );
    }
    o.push_str("# HELP ciq_task_runtime_seconds Time from start to outcome of a task.\n# TYPE ciq_task_runtime_seconds histogram\n");
    for ((t, q), h) in m.runtime.lock().unwrap().iter() {
        let l = format!("task=\"{}\",queue=\"{}\"", esc(t), esc(q));
        for (i, b) in BUCKETS.iter().enumerate() {
            let _ = writeln!(
                o,
                "ciq_task_runtime_seconds_bucket{{{l},le=\"{b}\"}} {}",
                h.counts[i]
            );
        }
        let _ = writeln!(
            o,
            "ciq_task_runtime_seconds_bucket{{{l},le=\"+Inf\"}} {}",
            h.total
        );
        let _ = writeln!(o, "ciq_task_runtime_seconds_sum{{{l}}} {}", h.sum);
        let _ = writeln!(o, "ciq_task_runtime_seconds_count{{{l}}} {}", h.total);
    }
    o.push_str("# HELP ciq_lease_recoveries_total Tasks this worker's sweeper recovered after their worker died.\n# TYPE ciq_lease_recoveries_total counter\n");
    {
        // Every served queue appears (at 0 until a recovery), so rates and alerts see it.
        let rec = m.recovered.lock().unwrap();
        let mut qs: BTreeMap<&str, u64> =
            shared.queues.iter().map(|q| (q.name.as_str(), 0)).collect();
        qs.extend(rec.iter().map(|(q, n)| (q.as_str(), *n)));
        for (q, n) in qs {
            let _ = writeln!(o, "ciq_lease_recoveries_total{{queue=\"{}\"}} {n}", esc(q));
        }
    }
    o.push_str("# HELP ciq_tasks_in_flight Tasks this worker is running now.\n# TYPE ciq_tasks_in_flight gauge\n");
    let _ = writeln!(
        o,
        "ciq_tasks_in_flight {}",
        shared.running.lock().unwrap().len()
    );
    o
}

/// This worker's part of `/metrics`; `metrics::cluster` adds the Redis-wide gauges.
pub(crate) fn part(shared: Arc<Shared>) -> crate::metrics::Part {
    crate::metrics::Part::new(move || {
        let s = shared.clone();
        async move { render(&s) }
    })
}
