//! `ciq web`: a dashboard and JSON API over the same Redis records the CLI reads.
//!
//! Sits above `broker` and `output`, below `cli`: what only the CLI knows how to build
//! (`status --json`, `inspect task --json`, `inspect scheduled --json`) comes in through
//! the [`Source`] trait, so the pages and the API show exactly the CLI's JSON.
//! - `auth`: the Jupyter-style token, its cookie, CSRF, the 401 gate.
//! - `api`: `GET /api/...` (JSON).
//! - `list`: one bounded window of a queue's tasks (pagination, search).
//! - `pages` / `html`: server-rendered pages, CSS embedded, no script needed.
//! - `actions`: confirmed, CSRF-checked, audited writes (only with `--allow-actions`).
//! - `/metrics`: the Prometheus text of `crate::metrics` (the cluster gauges).

mod actions;
mod api;
mod auth;
mod html;
pub mod list;
mod pages;
mod rates;
pub mod tls;

pub use auth::valid_token;

use crate::broker::Broker;
use axum::routing::{get, post};
use axum::Router;
use serde_json::Value;
use std::future::Future;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::pin::Pin;
use std::sync::Arc;

pub type Fut<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// What the CLI builds for the web: the very values its `--json` outputs print.
pub trait Source: Send + Sync + 'static {
    /// `ciq status --json`.
    fn status(&self) -> Fut<'_, Value>;
    /// `ciq inspect task ID --json` (or `--unique KEY`); None when nothing is known. A
    /// pending task without a record is looked for among the oldest pending messages and,
    /// given `near` (its position from the oldest end, as the pending list shows it),
    /// around there: bounded reads, whatever a queue's length.
    fn task(
        &self,
        id_or_unique: String,
        near: Option<u64>,
    ) -> Fut<'_, Result<Option<Value>, String>>;
    /// `ciq inspect scheduled --json`.
    fn scheduled(&self) -> Fut<'_, Result<Value, String>>;
    /// Every queue known to Redis plus the configured ones.
    fn queues(&self) -> Fut<'_, Result<Vec<String>, String>>;
}

/// How `ciq web` was asked to run.
#[derive(Clone)]
pub struct Options {
    pub listen: SocketAddr,
    /// The login token (random unless read from --token-file).
    pub token: String,
    pub allow_actions: bool,
    /// One JSON line per action.
    pub audit_log: PathBuf,
    /// What `GET /metrics` answers (Prometheus text; behind the same token).
    pub metrics: Vec<crate::metrics::Part>,
    /// HTTPS with this certificate and key (rustls); plain HTTP when None.
    pub tls: Option<tokio_rustls::TlsAcceptor>,
}

/// Shared by every handler.
pub(crate) struct App {
    pub broker: Broker,
    pub source: Box<dyn Source>,
    pub opts: Options,
    /// Must come back with every POST from a cookie session (pages embed it).
    pub csrf: String,
}

pub(crate) type AppState = Arc<App>;

/// A non-loopback address needs a token the operator chose (a file), not one printed to
/// a terminal that may be logged: refused, and the caller exits 2.
pub fn check_listen(listen: &SocketAddr, token_file: bool) -> Result<(), String> {
    if listen.ip().is_loopback() || token_file {
        Ok(())
    } else {
        Err(format!(
            "refusing to listen on {listen} without --token-file: a non-loopback address needs a token you chose (or put ciq web behind nginx on 127.0.0.1)"
        ))
    }
}

/// A fresh random token (hex, 192 bits).
pub fn random_token() -> String {
    use rand::RngCore;
    let mut b = [0u8; 24];
    rand::thread_rng().fill_bytes(&mut b);
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// The router, for `serve` and for tests that drive it without a socket.
pub fn router(broker: Broker, source: Box<dyn Source>, opts: Options) -> Router {
    routes(Arc::new(App {
        broker,
        source,
        opts,
        csrf: random_token(),
    }))
}

fn routes(app: AppState) -> Router {
    let parts = Arc::new(app.opts.metrics.clone());
    Router::new()
        .route(
            "/metrics",
            get(move || crate::metrics::respond(parts.clone())),
        )
        .route("/", get(pages::overview))
        .route("/queues/{queue}", get(pages::queue))
        .route("/tasks/{id}", get(pages::task))
        .route("/workers", get(pages::workers))
        .route("/beat", get(pages::beat))
        .route("/actions/confirm", get(actions::confirm))
        .route("/actions", post(actions::perform))
        .route("/api/status", get(api::status))
        .route("/api/queues", get(api::queues))
        .route("/api/tasks", get(api::tasks))
        .route("/api/tasks/{id}", get(api::task))
        .route("/api/workers", get(api::workers))
        .route("/api/beat", get(api::beat))
        .route("/api/actions", post(actions::perform_api))
        .layer(axum::middleware::from_fn_with_state(
            app.clone(),
            auth::gate,
        ))
        .with_state(app)
}

/// Binds the address (a taken port is an error before anything else starts).
pub async fn bind(addr: SocketAddr) -> Result<tokio::net::TcpListener, String> {
    tokio::net::TcpListener::bind(addr)
        .await
        .map_err(|e| format!("cannot listen on {addr}: {e}"))
}

/// On a listener from `bind`: prints the one URL with the token (through `announce`),
/// then serves until `shutdown` resolves.
pub async fn serve(
    listener: tokio::net::TcpListener,
    broker: Broker,
    source: Box<dyn Source>,
    opts: Options,
    shutdown: impl Future<Output = ()> + Send + 'static,
    announce: impl FnOnce(String),
) -> Result<(), String> {
    let addr = listener
        .local_addr()
        .map_err(|e| format!("cannot read the bound address: {e}"))?;
    let scheme = if opts.tls.is_some() { "https" } else { "http" };
    announce(format!("{scheme}://{addr}/?token={}", opts.token));
    let tls = opts.tls.clone();
    let app = Arc::new(App {
        broker,
        source,
        opts,
        csrf: random_token(),
    });
    let sampler = tokio::spawn(rates::sampler(app.clone()));
    let r = match tls {
        Some(tls) => {
            tls::serve(listener, tls, routes(app), shutdown).await;
            Ok(())
        }
        None => axum::serve(listener, routes(app))
            .with_graceful_shutdown(shutdown)
            .await
            .map_err(|e| format!("web server stopped: {e}")),
    };
    sampler.abort();
    r
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn non_loopback_listen_needs_a_token_file() {
        let any: SocketAddr = "0.0.0.0:8765".parse().unwrap();
        let lo: SocketAddr = "127.0.0.1:8765".parse().unwrap();
        let lo6: SocketAddr = "[::1]:8765".parse().unwrap();
        assert!(check_listen(&any, false).is_err());
        assert!(check_listen(&any, true).is_ok());
        assert!(check_listen(&lo, false).is_ok());
        assert!(check_listen(&lo6, false).is_ok());
    }

    #[test]
    fn random_tokens_are_long_and_differ() {
        let (a, b) = (random_token(), random_token());
        assert_eq!(a.len(), 48);
        assert_ne!(a, b);
    }
}
