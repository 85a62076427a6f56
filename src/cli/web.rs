//! `ciq web`: the dashboard and JSON API (see `crate::web`). This file parses the
//! arguments and hands the web the CLI's own `--json` views.

use super::{CliError, CliResult, Ctx};
use crate::broker::Broker;
use crate::web::{self, Fut, Options, Source};
use serde_json::Value;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

/// Serve a dashboard and a JSON API in the browser: queues, tasks with their history,
/// workers, beat, and Prometheus metrics at /metrics. Prints one URL with a login token
/// (`?token=…`); every page and API path needs it (cookie or `Authorization: Bearer`).
#[derive(Debug, clap::Args)]
#[command(
    after_help = "Examples:\n  ciq web                                  # http://127.0.0.1:8765/?token=...\n  ciq web --listen 0.0.0.0:8765 --token-file /etc/ciq/web-token --allow-actions\n  curl -H \"Authorization: Bearer $(cat /etc/ciq/web-token)\" http://127.0.0.1:8765/api/queues\n\nA non-loopback --listen needs --token-file (exit 2 otherwise); for TLS, put nginx in front (see the README)."
)]
pub struct WebArgs {
    /// Address to listen on (port 0: any free port, printed).
    #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:8765")]
    pub listen: String,
    /// Read the login token from FILE (letters, digits, - . _ ~; 16+ characters)
    /// instead of making a random one.
    #[arg(long, value_name = "FILE")]
    pub token_file: Option<PathBuf>,
    /// Allow requeue, pause/resume, cancel and purge from the pages and the API (each
    /// confirmed and audited). Read-only without it.
    #[arg(long)]
    pub allow_actions: bool,
    /// Where actions are recorded, one JSON line each.
    #[arg(long, value_name = "FILE", default_value = "ciq-web-audit.jsonl")]
    pub audit_log: PathBuf,
    /// Serve HTTPS with this PEM certificate chain (needs --tls-key).
    #[arg(long, value_name = "FILE", requires = "tls_key")]
    pub tls_cert: Option<PathBuf>,
    /// The PEM private key of --tls-cert.
    #[arg(long, value_name = "FILE", requires = "tls_cert")]
    pub tls_key: Option<PathBuf>,
}

struct CliSource {
    ctx: Ctx,
    broker: Broker,
}

impl Source for CliSource {
    fn status(&self) -> Fut<'_, Value> {
        Box::pin(async move {
            let s = super::status::collect(&self.ctx, 15.0 * 60.0).await;
            serde_json::to_value(s).unwrap_or(Value::Null)
        })
    }

    fn task(&self, key: String, near: Option<u64>) -> Fut<'_, Result<Option<Value>, String>> {
        Box::pin(async move {
            let (b, c) = (&self.broker, &self.ctx);
            use super::inspect::task::{find_by, Named};
            let how = crate::broker::pending::PendingLookup::Near(near);
            let by_id = Named {
                id: Some(&key),
                unique: None,
                queue: None,
            };
            let rec = match find_by(b, c, by_id, how).await.map_err(|e| e.msg)?.1 {
                Some(r) => Some(r),
                None => {
                    let by_unique = Named {
                        id: None,
                        unique: Some(&key),
                        queue: None,
                    };
                    find_by(b, c, by_unique, how).await.map_err(|e| e.msg)?.1
                }
            };
            Ok(rec.map(|r| {
                serde_json::to_value(super::inspect::task::view(&r)).unwrap_or(Value::Null)
            }))
        })
    }

    fn scheduled(&self) -> Fut<'_, Result<Value, String>> {
        Box::pin(async move {
            let a = super::inspect::scheduled::ScheduledArgs {
                queue: None,
                limit: 100,
                history: 0,
            };
            let v = super::inspect::scheduled::build(&self.broker, &self.ctx.config, &a)
                .await
                .map_err(|e| e.msg)?;
            Ok(serde_json::to_value(v).unwrap_or(Value::Null))
        })
    }

    fn queues(&self) -> Fut<'_, Result<Vec<String>, String>> {
        Box::pin(async move {
            self.broker
                .known_queues(&self.ctx.config.queue_names())
                .await
                .map_err(|e| e.to_string())
        })
    }
}

/// The token: from the file (checked), else random.
fn token(file: Option<&PathBuf>) -> CliResult<String> {
    let Some(f) = file else {
        return Ok(web::random_token());
    };
    let t = std::fs::read_to_string(f)
        .map_err(|e| CliError::usage(format!("--token-file {}: {e}", f.display())))?;
    let t = t.trim().to_string();
    web::valid_token(&t)
        .map_err(|e| CliError::usage(format!("--token-file {}: {e}", f.display())))?;
    Ok(t)
}

/// Checks the arguments (exit 2 on a bad one) into the web's options (no metrics yet).
pub fn options(a: &WebArgs) -> CliResult<Options> {
    let listen: SocketAddr = a.listen.parse().map_err(|_| {
        CliError::usage(format!(
            "--listen {:?}: give an IP address and port, e.g. 127.0.0.1:8765",
            a.listen
        ))
    })?;
    web::check_listen(&listen, a.token_file.is_some()).map_err(CliError::usage)?;
    Ok(Options {
        listen,
        token: token(a.token_file.as_ref())?,
        allow_actions: a.allow_actions,
        audit_log: a.audit_log.clone(),
        metrics: vec![],
        tls: match (&a.tls_cert, &a.tls_key) {
            (Some(c), Some(k)) => Some(web::tls::acceptor(c, k).map_err(CliError::usage)?),
            _ => None,
        },
    })
}

/// What the web shows, built by the CLI, and its `/metrics` (the cluster gauges).
pub(super) fn source(
    config: &crate::config::Config,
    broker: &Broker,
    opts: &mut Options,
) -> Box<dyn Source> {
    opts.metrics = vec![crate::metrics::cluster(
        broker.clone(),
        config.queue_names(),
        config.worker.heartbeat.0,
    )];
    Box::new(CliSource {
        ctx: Ctx {
            config: config.clone(),
            json: true,
            quiet: true,
        },
        broker: broker.clone(),
    })
}

pub async fn run(a: WebArgs, ctx: &Ctx) -> CliResult<ExitCode> {
    let mut opts = options(&a)?;
    let broker = ctx.broker().await?;
    let source = source(&ctx.config, &broker, &mut opts);
    let mode = if opts.allow_actions {
        format!("actions allowed, audited to {}", opts.audit_log.display())
    } else {
        "read-only".into()
    };
    let listener = web::bind(opts.listen).await.map_err(CliError::failure)?;
    web::serve(listener, broker, source, opts, shutdown(), move |url| {
        crate::output::print_line(&format!("ciq web: open {url}  ({mode}; Ctrl-C stops)"));
    })
    .await
    .map_err(CliError::failure)?;
    Ok(ExitCode::SUCCESS)
}

/// Ctrl-C or SIGTERM.
async fn shutdown() {
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).ok();
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = async { match term.as_mut() { Some(t) => { t.recv().await; } None => std::future::pending().await } } => {}
    }
}
