//! Logs for long-running commands: human lines on a terminal, JSON lines otherwise.
//! `RUST_LOG`/`CIQ_LOG` filter them (default `info`).

use std::io::IsTerminal;

/// Outdated settings the config was read with, as WARN lines.
pub fn config_warnings(cfg: &crate::config::Config) {
    for w in &cfg.warnings {
        tracing::warn!("{w}");
    }
}

pub fn init() {
    let filter = std::env::var("CIQ_LOG")
        .or_else(|_| std::env::var("RUST_LOG"))
        .unwrap_or_else(|_| "info".into());
    let filter = tracing_subscriber::EnvFilter::try_new(&filter)
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let b = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    let _ = if std::io::stderr().is_terminal() {
        b.with_target(false).try_init()
    } else {
        b.json()
            .flatten_event(true)
            .with_current_span(false)
            .try_init()
    };
}
