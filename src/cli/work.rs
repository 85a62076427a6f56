//! `ciq work`: run a worker until SIGTERM/SIGINT (a second signal stops at once).

use super::{CliError, CliResult, Ctx};
use crate::config::{checks, parse_duration, Config, QueueConfig};
use crate::worker::handler::{ConfiguredRunner, Noop, TaskHandler};
use crate::worker::{self, WorkerOptions};
use std::process::ExitCode;
use std::sync::Arc;

/// Run a worker: claim tasks from the queues, run them, record outcomes.
///
/// SIGTERM or SIGINT stops fetching and lets running tasks finish for up to
/// --shutdown-timeout, then returns the rest to pending; a second signal returns them
/// at once. Logs are human lines on a terminal and JSON lines otherwise.
#[derive(Debug, clap::Args)]
pub struct WorkArgs {
    /// Queues with optional weights, e.g. test_execution:6,default:3 (default: all configured).
    #[arg(
        long,
        short = 'Q',
        env = "CIQ_QUEUES",
        value_delimiter = ',',
        value_name = "Q[:WEIGHT]"
    )]
    pub queues: Vec<String>,
    /// Tasks run at once by this worker.
    #[arg(long, short = 'c', env = "CIQ_CONCURRENCY")]
    pub concurrency: Option<usize>,
    /// A name shown in `inspect active` and `status` (default: host:pid).
    #[arg(long, env = "CIQ_WORKER_NAME")]
    pub name: Option<String>,
    /// How long running tasks may finish after the first stop signal.
    #[arg(long, value_name = "DURATION", env = "CIQ_SHUTDOWN_TIMEOUT")]
    pub shutdown_timeout: Option<String>,
    /// Lease on a claimed task; it is recovered this long after its worker dies.
    #[arg(long, value_name = "DURATION", env = "CIQ_LEASE")]
    pub lease: Option<String>,
    /// How often leases are renewed.
    #[arg(long, value_name = "DURATION", env = "CIQ_HEARTBEAT")]
    pub heartbeat: Option<String>,
    /// How often expired leases are looked for.
    #[arg(long, value_name = "DURATION", env = "CIQ_SWEEP")]
    pub sweep: Option<String>,
    /// How long one worker keeps a queue's upkeep (promote + sweep) without renewing;
    /// a crashed holder is replaced within about twice this.
    #[arg(long, value_name = "DURATION", env = "CIQ_UPKEEP_LEASE")]
    pub upkeep_lease: Option<String>,
    /// Serve Prometheus metrics on this address, e.g. 127.0.0.1:9187.
    #[arg(long, value_name = "ADDR", env = "CIQ_METRICS_ADDR")]
    pub metrics_addr: Option<std::net::SocketAddr>,
}

fn dur(
    name: &str,
    v: &Option<String>,
    min: std::time::Duration,
) -> CliResult<Option<crate::config::Dur>> {
    let Some(s) = v.as_deref() else {
        return Ok(None);
    };
    let d = parse_duration(s).map_err(|e| CliError::usage(format!("--{name}: {e}")))?;
    checks::within(d, min, checks::KNOB_MAX)
        .map_err(|e| CliError::usage(format!("--{name}: {e}")))?;
    Ok(Some(crate::config::Dur(d)))
}

/// Applies the command-line overrides to the config's worker section and queues.
pub fn apply(a: &WorkArgs, cfg: &mut Config) -> CliResult<()> {
    if !a.queues.is_empty() {
        let mut qs = vec![];
        for spec in &a.queues {
            let (name, weight) = match spec.split_once(':') {
                Some((n, w)) => (
                    n,
                    w.parse::<u32>().ok().filter(|w| *w > 0).ok_or_else(|| {
                        CliError::usage(format!(
                            "--queues {spec:?}: weight must be a positive integer"
                        ))
                    })?,
                ),
                None => (spec.as_str(), 1),
            };
            crate::broker::keys::validate_queue_name(name).map_err(CliError::usage)?;
            super::known_queue::require_declared("--queues", name, &cfg.queue_names())?;
            qs.push(QueueConfig {
                name: name.into(),
                weight,
            });
        }
        cfg.queues.value = qs;
        cfg.queues.source = crate::config::Source::Flag;
    }
    if let Some(n) = &a.name {
        if n.is_empty() || n.contains('|') || n.chars().any(char::is_whitespace) {
            return Err(CliError::usage(format!(
                "--name {n:?}: use a non-empty name without '|' or spaces"
            )));
        }
    }
    let w = &mut cfg.worker;
    if let Some(c) = a.concurrency {
        checks::concurrency(c).map_err(|e| CliError::usage(format!("--concurrency: {e}")))?;
        w.concurrency = c;
    }
    let zero = std::time::Duration::ZERO;
    if let Some(d) = dur("shutdown-timeout", &a.shutdown_timeout, zero)? {
        w.shutdown_timeout = d;
    }
    if let Some(d) = dur("lease", &a.lease, checks::LEASE_MIN)? {
        w.lease = d;
    }
    if let Some(d) = dur("heartbeat", &a.heartbeat, checks::HEARTBEAT_MIN)? {
        w.heartbeat = d;
    }
    if let Some(d) = dur("sweep", &a.sweep, checks::SWEEP_MIN)? {
        w.sweep = d;
    }
    if let Some(d) = dur("upkeep-lease", &a.upkeep_lease, checks::LEASE_MIN)? {
        w.upkeep_lease = d;
    }
    if a.metrics_addr.is_some() {
        w.metrics_addr = a.metrics_addr;
    }
    if w.heartbeat >= w.lease {
        return Err(CliError::usage(format!(
            "heartbeat ({}) must be shorter than the lease ({})",
            w.heartbeat, w.lease
        )));
    }
    Ok(())
}

/// The handlers a full worker runs: built-ins, then tasks with configured runners.
pub fn handlers(cfg: &Arc<Config>) -> Vec<Arc<dyn TaskHandler>> {
    vec![
        Arc::new(Noop),
        Arc::new(crate::platform::handler::PlatformTasks::new()),
        Arc::new(ConfiguredRunner::new(cfg.clone())),
    ]
}

pub async fn run(a: WorkArgs, ctx: &Ctx) -> CliResult<ExitCode> {
    super::logging::init();
    super::logging::config_warnings(&ctx.config);
    let mut cfg = ctx.config.clone();
    apply(&a, &mut cfg)?;
    let cfg = Arc::new(cfg);
    let shutdown = crate::shutdown::on_signals();
    let Some(broker) = crate::broker::Broker::connect_retrying(
        &cfg.broker.value,
        &cfg.broker_options,
        crate::shutdown::stopped(&shutdown),
    )
    .await?
    else {
        return Ok(ExitCode::SUCCESS);
    };
    let opts = WorkerOptions::from_config(&cfg, worker::default_worker_id(a.name.as_deref()));
    worker::run(opts, cfg.clone(), broker, handlers(&cfg), shutdown).await?;
    Ok(ExitCode::SUCCESS)
}
