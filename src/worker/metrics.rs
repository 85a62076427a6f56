//! Prometheus metrics of one worker process, served as text on `--metrics-addr`.
//! Counters are this process's own (Prometheus sums across processes); queue depth and
//! age are read from Redis at scrape time.

use super::Shared;
use crate::broker::now_ms;
use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

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

fn esc(s: &str) -> String {
    s.replace('\\', "\\\\").replace('"', "\\\"")
}

async fn render(shared: &Shared) -> String {
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
    o.push_str("# HELP ciq_queue_depth Tasks per queue and state (from Redis).\n# TYPE ciq_queue_depth gauge\n# HELP ciq_queue_oldest_pending_seconds Age of the oldest pending task.\n# TYPE ciq_queue_oldest_pending_seconds gauge\n");
    let now = now_ms();
    let mut paused = vec![];
    for q in &shared.queues {
        if let Ok(d) = shared.broker.depth(&q.name, now).await {
            for (state, n) in [
                ("pending", d.pending),
                ("active", d.active),
                ("scheduled", d.scheduled),
                ("retry", d.retry),
                ("dead", d.dead),
            ] {
                let _ = writeln!(
                    o,
                    "ciq_queue_depth{{queue=\"{}\",state=\"{state}\"}} {n}",
                    esc(&d.queue)
                );
            }
            let _ = writeln!(
                o,
                "ciq_queue_oldest_pending_seconds{{queue=\"{}\"}} {}",
                esc(&d.queue),
                d.oldest_pending_age_s.unwrap_or(0.0)
            );
            paused.push((d.queue.clone(), d.paused));
        }
    }
    o.push_str(
        "# HELP ciq_queue_paused 1 while the queue is paused.\n# TYPE ciq_queue_paused gauge\n",
    );
    for (q, p) in paused {
        let _ = writeln!(o, "ciq_queue_paused{{queue=\"{}\"}} {}", esc(&q), p as u8);
    }
    // Cluster-wide, from Redis: what the "no worker" and "no beat leader" alerts read.
    let stale_ms = shared.opts.heartbeat.as_millis() as u64 * 3 + 2000;
    if let Ok(ws) = shared.broker.workers(now, 24 * 3600 * 1000).await {
        let alive = ws
            .iter()
            .filter(|(_, _, at)| now.saturating_sub(*at) <= stale_ms)
            .count();
        o.push_str("# HELP ciq_workers_alive Workers whose heartbeat is fresh.\n# TYPE ciq_workers_alive gauge\n");
        let _ = writeln!(o, "ciq_workers_alive {alive}");
    }
    if let Ok(leader) = shared.broker.beat_leader_raw().await {
        o.push_str("# HELP ciq_beat_leader 1 while a beat holds the leader lease.\n# TYPE ciq_beat_leader gauge\n");
        let _ = writeln!(o, "ciq_beat_leader {}", leader.is_some() as u8);
    }
    o
}

/// Serves `GET /metrics` (any path works) until the worker stops.
pub(crate) async fn serve(shared: Arc<Shared>, listener: tokio::net::TcpListener) {
    loop {
        let Ok((mut sock, _)) = listener.accept().await else {
            continue;
        };
        let s = shared.clone();
        tokio::spawn(async move {
            let mut buf = [0u8; 2048];
            let _ = tokio::time::timeout(Duration::from_secs(2), sock.read(&mut buf)).await;
            let body = render(&s).await;
            let resp = format!(
                "HTTP/1.1 200 OK\r\nContent-Type: text/plain; version=0.0.4\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                body.len()
            );
            let _ = sock.write_all(resp.as_bytes()).await;
        });
    }
}
