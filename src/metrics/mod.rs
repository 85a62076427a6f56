//! Prometheus metrics over HTTP, shared by `ciq work`, `ciq beat`, `ciq up` and `ciq web`:
//! one axum server (`serve`) that concatenates the text of its parts at each scrape, and the
//! cluster-wide gauges every process exports (`cluster`: queue depth and age, paused
//! queues, live workers, whether a beat leads), read from Redis at scrape time.
//! Alerts and dashboards aggregate with `max`, so several processes exporting the same
//! cluster gauge do not count twice.

pub mod beat;

use crate::broker::{self, now_ms, Broker};
use std::fmt::Write;
use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;

type Render = dyn Fn() -> Pin<Box<dyn Future<Output = String> + Send>> + Send + Sync;

/// One producer of metric text, called at every scrape.
#[derive(Clone)]
pub struct Part(Arc<Render>);

impl Part {
    pub fn new<F, Fut>(f: F) -> Part
    where
        F: Fn() -> Fut + Send + Sync + 'static,
        Fut: Future<Output = String> + Send + 'static,
    {
        Part(Arc::new(move || Box::pin(f())))
    }

    pub async fn render(&self) -> String {
        (self.0)().await
    }
}

impl std::fmt::Debug for Part {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("metrics::Part")
    }
}

/// Binds the metrics address at start, so a taken port is an error before any work.
pub async fn bind(addr: SocketAddr) -> broker::Result<TcpListener> {
    TcpListener::bind(addr)
        .await
        .map_err(|e| broker::Error::Invalid(format!("cannot listen for metrics on {addr}: {e}")))
}

/// The text of every part, in order (what a scrape answers).
pub async fn render(parts: &[Part]) -> String {
    let mut body = String::new();
    for p in parts {
        body.push_str(&p.render().await);
    }
    body
}

/// An axum handler answering with the parts' text (`ciq web` mounts it at `/metrics`).
pub async fn respond(parts: Arc<Vec<Part>>) -> axum::response::Response {
    use axum::response::IntoResponse;
    (
        [(
            axum::http::header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        render(&parts).await,
    )
        .into_response()
}

/// Serves `GET /metrics` (any path works) with the parts' text, in order, forever.
pub async fn serve(listener: TcpListener, parts: Vec<Part>) {
    let parts = Arc::new(parts);
    let app = axum::Router::new().fallback(move || respond(parts.clone()));
    // An accept error is logged by axum and the loop goes on; serve returns only when
    // the listener is gone.
    let _ = axum::serve(listener, app).await;
}

pub(crate) fn esc(s: &str) -> String {
    s.replace('\\', "\\\\").replace('"', "\\\"")
}

/// The cluster-wide gauges, from Redis: per queue depth, oldest pending age and paused
/// state, live workers (heartbeat within 3 heartbeats + 2 s) and whether a beat leads.
pub fn cluster(broker: Broker, queues: Vec<String>, heartbeat: Duration) -> Part {
    Part::new(move || {
        let (broker, queues) = (broker.clone(), queues.clone());
        async move { render_cluster(&broker, &queues, heartbeat).await }
    })
}

async fn render_cluster(broker: &Broker, queues: &[String], heartbeat: Duration) -> String {
    let mut o = String::new();
    o.push_str("# HELP ciq_queue_depth Tasks per queue and state (from Redis).\n# TYPE ciq_queue_depth gauge\n# HELP ciq_queue_oldest_pending_seconds Age of the oldest pending task.\n# TYPE ciq_queue_oldest_pending_seconds gauge\n");
    let now = now_ms();
    let mut paused = vec![];
    for q in queues {
        if let Ok(d) = broker.depth(q, now).await {
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
    // What the "no worker" and "no beat leader" alerts read.
    let stale_ms = heartbeat.as_millis() as u64 * 3 + 2000;
    if let Ok(ws) = broker.workers(now, 24 * 3600 * 1000).await {
        let alive = ws
            .iter()
            .filter(|(_, _, at)| now.saturating_sub(*at) <= stale_ms)
            .count();
        o.push_str("# HELP ciq_workers_alive Workers whose heartbeat is fresh.\n# TYPE ciq_workers_alive gauge\n");
        let _ = writeln!(o, "ciq_workers_alive {alive}");
    }
    if let Ok(leader) = broker.beat_leader_raw().await {
        o.push_str("# HELP ciq_beat_leader 1 while a beat holds the leader lease.\n# TYPE ciq_beat_leader gauge\n");
        let _ = writeln!(o, "ciq_beat_leader {}", leader.is_some() as u8);
    }
    o
}
