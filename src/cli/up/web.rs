//! `ciq up --web ADDR`: the dashboard (`ciq web`) beside up's worker and beat, in the
//! same process; its address is bound before anything starts, and its URL (with the
//! token) is printed once the broker is known.

use crate::broker::Broker;
use crate::cli::web::WebArgs;
use crate::cli::CliResult;
use crate::config::Config;
use crate::web::{self, Options};
use std::path::PathBuf;
use tokio::net::TcpListener;

#[derive(Debug, clap::Args)]
pub struct UpWebArgs {
    /// Also serve the web dashboard and JSON API (as `ciq web`, read-only) on ADDR, e.g.
    /// 127.0.0.1:8765; the URL with its token is printed at start.
    #[arg(long = "web", value_name = "ADDR")]
    pub web: Option<String>,
    /// With --web: read the login token from FILE (needed for a non-loopback ADDR).
    #[arg(long = "web-token-file", value_name = "FILE", requires = "web")]
    pub web_token_file: Option<PathBuf>,
}

/// Checks the flags and binds the address (exit 2 on a bad flag, 1 on a taken port).
pub async fn bind(a: &UpWebArgs) -> CliResult<Option<(Options, TcpListener)>> {
    let Some(listen) = &a.web else {
        return Ok(None);
    };
    let opts = crate::cli::web::options(&WebArgs {
        listen: listen.clone(),
        token_file: a.web_token_file.clone(),
        allow_actions: false,
        audit_log: "ciq-web-audit.jsonl".into(),
        tls_cert: None,
        tls_key: None,
    })?;
    let l = web::bind(opts.listen)
        .await
        .map_err(|e| crate::cli::CliError::failure(format!("--web: {e}")))?;
    Ok(Some((opts, l)))
}

/// Serves until the returned task is aborted (when `up` stops).
pub fn spawn(
    bound: Option<(Options, TcpListener)>,
    cfg: &Config,
    broker: &Broker,
    quiet: bool,
) -> Option<tokio::task::JoinHandle<()>> {
    let (mut opts, listener) = bound?;
    let source = crate::cli::web::source(cfg, broker, &mut opts);
    let broker = broker.clone();
    Some(tokio::spawn(async move {
        let r = web::serve(
            listener,
            broker,
            source,
            opts,
            std::future::pending(),
            |url| {
                if !quiet {
                    eprintln!("ciq up: web dashboard at {url}  (read-only)");
                }
            },
        )
        .await;
        if let Err(e) = r {
            tracing::error!(error = %e, "the web dashboard stopped");
        }
    }))
}
