//! Prometheus metrics (prometheus-client, OpenMetrics text) over HTTP, shared by `ciq work`, `ciq beat`, `ciq up` and `ciq web`:
//! one axum server (`serve`) that concatenates the text of its parts at each scrape, and the
//! cluster-wide gauges every process exports (`cluster`: queue depth and age, paused
//! queues, live workers, whether a beat leads), read from Redis at scrape time.
//! Alerts and dashboards aggregate with `max`, so several processes exporting the same
//! cluster gauge do not count twice.

pub mod beat;

use crate::broker::{self, now_ms, Broker};
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;
use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::atomic::{AtomicI64, AtomicU64};
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

/// The text of every part, in order, then the one `# EOF` (what a scrape answers).
pub async fn render(parts: &[Part]) -> String {
    let mut body = String::new();
    for p in parts {
        body.push_str(&p.render().await);
    }
    let _ = prometheus_client::encoding::text::encode_eof(&mut body);
    body
}

/// One part's text: its registry in OpenMetrics text, without the `# EOF` that
/// `render` adds once at the end.
pub fn encode(reg: &Registry) -> String {
    let mut s = String::new();
    let _ = prometheus_client::encoding::text::encode_registry(&mut s, reg);
    s
}

/// Labels of the per-queue metrics.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct QueueLabel {
    pub queue: String,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct QueueState {
    queue: String,
    state: String,
}

/// A float gauge (ages, timestamps).
pub type FloatGauge = Gauge<f64, AtomicU64>;

/// An axum handler answering with the parts' text (`ciq web` mounts it at `/metrics`).
pub async fn respond(parts: Arc<Vec<Part>>) -> axum::response::Response {
    use axum::response::IntoResponse;
    (
        [(
            axum::http::header::CONTENT_TYPE,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
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

/// The cluster-wide gauges, from Redis: per queue depth, oldest pending age and paused
/// state, live workers (heartbeat within 3 heartbeats + 2 s) and whether a beat leads.
pub fn cluster(broker: Broker, queues: Vec<String>, heartbeat: Duration) -> Part {
    Part::new(move || {
        let (broker, queues) = (broker.clone(), queues.clone());
        async move { render_cluster(&broker, &queues, heartbeat).await }
    })
}

async fn render_cluster(broker: &Broker, queues: &[String], heartbeat: Duration) -> String {
    let mut reg = Registry::default();
    let depth = Family::<QueueState, Gauge>::default();
    let oldest = Family::<QueueLabel, FloatGauge>::default();
    let paused = Family::<QueueLabel, Gauge>::default();
    reg.register(
        "ciq_queue_depth",
        "Tasks per queue and state (from Redis)",
        depth.clone(),
    );
    reg.register(
        "ciq_queue_oldest_pending_seconds",
        "Age of the oldest pending task",
        oldest.clone(),
    );
    reg.register(
        "ciq_queue_paused",
        "1 while the queue is paused",
        paused.clone(),
    );
    let now = now_ms();
    for q in queues {
        if let Ok(d) = broker.depth(q, now).await {
            for (state, n) in [
                ("pending", d.pending),
                ("active", d.active),
                ("scheduled", d.scheduled),
                ("retry", d.retry),
                ("dead", d.dead),
            ] {
                depth
                    .get_or_create(&QueueState {
                        queue: d.queue.clone(),
                        state: state.into(),
                    })
                    .set(n as i64);
            }
            let l = QueueLabel {
                queue: d.queue.clone(),
            };
            oldest
                .get_or_create(&l)
                .set(d.oldest_pending_age_s.unwrap_or(0.0));
            paused.get_or_create(&l).set(d.paused as i64);
        }
    }
    // What the "no worker" and "no beat leader" alerts read.
    let stale_ms = heartbeat.as_millis() as u64 * 3 + 2000;
    if let Ok(ws) = broker.workers(now, 24 * 3600 * 1000).await {
        let alive = ws
            .iter()
            .filter(|(_, _, at)| now.saturating_sub(*at) <= stale_ms)
            .count();
        let g = Gauge::<i64, AtomicI64>::default();
        g.set(alive as i64);
        reg.register("ciq_workers_alive", "Workers whose heartbeat is fresh", g);
    }
    if let Ok(leader) = broker.beat_leader_raw().await {
        let g = Gauge::<i64, AtomicI64>::default();
        g.set(leader.is_some() as i64);
        reg.register(
            "ciq_beat_leader",
            "1 while a beat holds the leader lease",
            g,
        );
    }
    encode(&reg)
}
