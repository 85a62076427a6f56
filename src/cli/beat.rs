//! `ciq beat`: the periodic scheduler.

use super::{CliError, CliResult, Ctx};
use crate::beat::{self, BeatOptions};
use crate::config::{parse_duration, Dur};
use std::process::ExitCode;
use std::sync::Arc;

/// Run the periodic scheduler: enqueue each [schedule.NAME] entry's task on time.
///
/// Run one on each of two or more hosts: they share a leader lease in Redis and only
/// the holder fires; a standby takes over within one lease period if the leader dies,
/// at once if it stops on SIGTERM/SIGINT. Each (entry, fire time) fires at most once.
/// After downtime each entry fires per its catch_up policy (default: once).
#[derive(Debug, clap::Args)]
pub struct BeatArgs {
    /// Fire whatever is due now (entries that never ran count as due), then exit.
    /// For crontab use; never doubles a running beat.
    #[arg(long)]
    pub once: bool,
    /// A name shown as the lease holder (default: host:pid).
    #[arg(long, env = "CIQ_BEAT_NAME")]
    pub name: Option<String>,
    /// Leader lease; a standby takes over this long after the leader dies.
    #[arg(long, value_name = "DURATION", env = "CIQ_BEAT_LEASE")]
    pub lease: Option<String>,
    /// How often the lease is renewed and entries are checked (at most half the lease).
    #[arg(long, value_name = "DURATION", env = "CIQ_BEAT_TICK")]
    pub tick: Option<String>,
    /// Serve Prometheus metrics on this address, e.g. 127.0.0.1:9188 (leader, fires and
    /// last/next fire time per entry, and the queue gauges) [config: [beat] metrics_addr].
    #[arg(long, value_name = "ADDR", env = "CIQ_BEAT_METRICS_ADDR")]
    pub metrics_addr: Option<std::net::SocketAddr>,
}

fn dur(name: &str, v: &Option<String>) -> CliResult<Option<Dur>> {
    v.as_deref()
        .map(|s| parse_duration(s).map(Dur))
        .transpose()
        .map_err(|e| CliError::usage(format!("--{name}: {e}")))
}

pub async fn run(a: BeatArgs, ctx: &Ctx) -> CliResult<ExitCode> {
    super::logging::init();
    super::logging::config_warnings(&ctx.config);
    let mut cfg = ctx.config.clone();
    if let Some(d) = dur("lease", &a.lease)? {
        cfg.beat.lease = d;
    }
    if let Some(d) = dur("tick", &a.tick)? {
        cfg.beat.tick = d;
    }
    if a.metrics_addr.is_some() {
        cfg.beat.metrics_addr = a.metrics_addr;
    }
    cfg.beat.check().map_err(CliError::usage)?;
    if cfg.schedule.is_empty() {
        tracing::warn!("no [schedule] entries configured; the beat has nothing to fire");
    }
    let cfg = Arc::new(cfg);
    let shutdown = crate::shutdown::on_signals();
    // --once is a command: an unreachable Redis fails at once (exit 3). A long-running
    // beat waits for Redis instead.
    let broker = if a.once {
        ctx.broker().await?
    } else {
        let stop = crate::shutdown::stopped(&shutdown);
        match crate::broker::Broker::connect_retrying(&cfg.broker.value, &cfg.broker_options, stop)
            .await?
        {
            Some(b) => b,
            None => return Ok(ExitCode::SUCCESS),
        }
    };
    let mut opts =
        BeatOptions::from_config(&cfg, crate::worker::default_worker_id(a.name.as_deref()));
    opts.once = a.once;
    if let (Some(addr), false) = (cfg.beat.metrics_addr, a.once) {
        let listener = crate::metrics::bind(addr).await?;
        tracing::info!(%addr, "serving Prometheus metrics");
        let parts = vec![
            metrics_part(&cfg, &broker, &opts),
            crate::metrics::cluster(broker.clone(), cfg.queue_names(), cfg.worker.heartbeat.0),
        ];
        tokio::spawn(crate::metrics::serve(listener, parts));
    }
    beat::run(cfg, broker, opts, shutdown).await?;
    Ok(ExitCode::SUCCESS)
}

/// The beat's own metrics, for `ciq beat` and `ciq up`.
pub fn metrics_part(
    cfg: &crate::config::Config,
    broker: &crate::broker::Broker,
    opts: &BeatOptions,
) -> crate::metrics::Part {
    crate::metrics::beat::part(
        broker.clone(),
        opts.id.clone(),
        cfg.schedule.keys().cloned().collect(),
        opts.fires.clone(),
    )
}
