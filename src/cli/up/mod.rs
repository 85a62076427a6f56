//! `ciq up`: everything on one machine, for trying ciq and for small installs.

mod local_redis;
mod standin;
mod web;

use crate::beat::BeatOptions;
use crate::broker::Broker;
use crate::cli::work::{apply, handlers, WorkArgs};
use crate::cli::{CliError, CliResult, Ctx};
use crate::config::{Config, Source};
use crate::worker::{self, WorkerOptions};
use local_redis::{answers, answers_socket, default_data_dir, local_port, socket_in};
use local_redis::{Listen, LocalRedis};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

/// Run ciq all-in-one: a local redis-server if needed, the platform database, a worker and
/// the beat.
///
/// By default `up` starts its own redis-server (AOF on, data in --data-dir/redis) on a
/// unix socket there (TCP off), whatever already listens on 6379, and stops it on exit;
/// it never writes into a Redis it did not start unless told to. --broker / CIQ_BROKER
/// names the Redis to use instead (started on its port when it is local, without a
/// password, and nothing answers there); --use-existing-redis uses the broker from
/// ciq.toml. A running Redis is used only when it has AOF on, or with
/// --use-existing-redis. `up` says which Redis it uses and how it persists. Without a
/// [platform] section a stand-in bridge (written under --data-dir) plays the platform's
/// part on the SQLite database: it creates no VM and notes each start in
/// started-tests.log beside the database. A sqlite:// database is created with the platform's tables if it is new. One
/// discovery pass (process_pending_tests) is queued at start so waiting tests are picked
/// up at once; the beat fires the [schedule] entries from then on. SIGTERM/SIGINT stop
/// gracefully, a second signal at once.
#[derive(Debug, clap::Args)]
#[command(after_help = "Quick start:\n  ciq up --config examples/ciq.toml")]
pub struct UpArgs {
    /// Where ciq keeps its data (redis AOF and log) [default: $XDG_DATA_HOME/ciq or ~/.local/share/ciq].
    #[arg(long, env = "CIQ_DATA_DIR", value_name = "DIR")]
    pub data_dir: Option<PathBuf>,
    /// Never start a redis-server: use the configured broker (it must be running).
    #[arg(long)]
    pub no_redis: bool,
    /// Use the configured broker (ciq.toml or the default 127.0.0.1:6379) instead of
    /// starting a private Redis, even when it runs without AOF (a restart of it then loses
    /// every queued task). Without this, `up` refuses a Redis without AOF.
    #[arg(long)]
    pub use_existing_redis: bool,
    /// The redis-server program to start.
    #[arg(
        long,
        env = "CIQ_REDIS_SERVER",
        default_value = "redis-server",
        value_name = "PATH"
    )]
    pub redis_server: String,
    #[command(flatten)]
    pub work: WorkArgs,
    #[command(flatten)]
    pub web: web::UpWebArgs,
}

pub async fn run(a: UpArgs, ctx: &Ctx) -> CliResult<ExitCode> {
    crate::cli::logging::init();
    crate::cli::logging::config_warnings(&ctx.config);
    let mut cfg = ctx.config.clone();
    apply(&a.work, &mut cfg)?;
    cfg.beat.check().map_err(CliError::usage)?;
    crate::beat::entries(&cfg, cfg.beat.lease.0 + cfg.beat.tick.0).map_err(CliError::usage)?;
    let web = web::bind(&a.web).await?;
    let data_dir = a.data_dir.clone().unwrap_or_else(default_data_dir);
    if let Some(script) = standin::configure(&mut cfg, &data_dir)? {
        tracing::info!(bridge = %script.display(), "no [platform] configured: the stand-in bridge plays the platform's part (it creates no VM; started tests go to started-tests.log beside the database)");
    }
    let plan = choose_redis(&mut cfg, &a, &data_dir, ctx.quiet).await?;
    let cfg = Arc::new(cfg);
    let shutdown = crate::shutdown::on_signals();

    let local = match &plan {
        Some(at) => {
            let r = LocalRedis::start(&a.redis_server, at, &data_dir.join("redis")).await?;
            tracing::info!(broker = %cfg.broker.value, dir = %r.dir.display(), "started redis-server (AOF on)");
            Some(r)
        }
        None => None,
    };
    let broker = match Broker::connect_with(&cfg.broker.value, &cfg.broker_options).await {
        Ok(b) => b,
        Err(e) => {
            if let Some(mut r) = local {
                r.stop().await;
            }
            return Err(e.into());
        }
    };
    if let Err(e) = say_which_redis(&broker, local.as_ref(), a.use_existing_redis, ctx.quiet).await
    {
        if let Some(mut r) = local {
            r.stop().await;
        }
        return Err(e);
    }

    let web = web::spawn(web, &cfg, &broker, ctx.quiet);
    let outcome = run_services(&cfg, broker, a.work.name.as_deref(), shutdown).await;
    if let Some(w) = web {
        w.abort();
    }
    if let Some(mut r) = local {
        r.stop().await;
        tracing::info!("stopped redis-server");
    }
    outcome
}

/// Which Redis `up` uses, and whether it starts one (and where). Told with `--broker` /
/// CIQ_BROKER: that one, started on its port when it is local and silent. Told with
/// `--use-existing-redis` or `--no-redis`: the configured one, never started. Otherwise its
/// own, on a unix socket under the data directory, whatever listens on 6379; the broker in
/// ciq.toml, if any, is named and left alone.
async fn choose_redis(
    cfg: &mut Config,
    a: &UpArgs,
    data_dir: &Path,
    quiet: bool,
) -> CliResult<Option<Listen>> {
    let told = matches!(cfg.broker.source, Source::Flag | Source::Env);
    if told {
        return Ok(match (local_port(&cfg.broker.value), a.no_redis) {
            (Some(port), false) if !answers(port).await => Some(Listen::Port(port)),
            _ => None,
        });
    }
    if a.use_existing_redis || a.no_redis {
        return Ok(None);
    }
    let sock = socket_in(&data_dir.join("redis"))?;
    if answers_socket(&sock).await {
        return Err(CliError::new(
            crate::cli::Kind::Refused,
            format!(
                "another ciq up is running with the data directory {} (its Redis answers at unix://{})",
                data_dir.display(),
                sock.display()
            ),
        )
        .with_hint("stop it first, or give this one another --data-dir"));
    }
    if cfg.broker.source == Source::File && !quiet {
        say(&format!(
            "ciq up: not using the broker in {} ({}): ciq up runs its own Redis; give --broker or --use-existing-redis to use that one",
            cfg.file.as_deref().map(|f| f.display().to_string()).unwrap_or_else(|| "ciq.toml".into()),
            crate::secrets::redact_url(&cfg.broker.value)
        ));
    }
    cfg.broker = crate::config::Sourced::new(format!("unix://{}", sock.display()), Source::Default);
    Ok(Some(Listen::Socket(sock)))
}

/// One line on stderr naming the Redis `up` uses and its persistence; refuses a Redis it
/// did not start that runs without AOF, unless told to use it anyway.
async fn say_which_redis(
    broker: &Broker,
    local: Option<&LocalRedis>,
    use_existing: bool,
    quiet: bool,
) -> CliResult<()> {
    let info = broker.server_info().await.unwrap_or_default();
    let aof = if info.aof_enabled {
        "AOF on"
    } else {
        "AOF off"
    };
    let line = match local {
        Some(r) => format!(
            "ciq up: using Redis {} at {}, started by ciq up ({aof}, data in {}); other ciq commands reach it with --broker {}",
            info.version,
            broker.addr(),
            r.dir.display(),
            broker.addr()
        ),
        None if !info.aof_enabled && !use_existing => {
            return Err(CliError::new(
                crate::cli::Kind::Refused,
                format!(
                    "the Redis already running at {} (Redis {}) has AOF off: a restart of it would lose every queued task",
                    broker.addr(),
                    info.version
                ),
            )
            .with_hint(
                "turn AOF on (redis-cli CONFIG SET appendonly yes, and appendonly yes in redis.conf), use it anyway with --use-existing-redis, or give --broker a free local port and ciq up starts its own Redis with AOF on there",
            ))
        }
        None => format!(
            "ciq up: using the Redis already running at {} (Redis {}, {aof}{})",
            broker.addr(),
            info.version,
            if info.aof_enabled {
                ""
            } else {
                ": --use-existing-redis given; a restart of it loses queued tasks"
            }
        ),
    };
    if !quiet {
        say(&line);
    }
    Ok(())
}

/// A line for the person who ran `up`: plain on a terminal, one JSON log line otherwise
/// (a log pipeline reading stderr gets nothing but JSON).
fn say(line: &str) {
    use std::io::IsTerminal;
    if std::io::stderr().is_terminal() {
        eprintln!("{line}");
    } else {
        tracing::info!("{line}");
    }
}

async fn run_services(
    cfg: &Arc<Config>,
    broker: Broker,
    name: Option<&str>,
    shutdown: tokio::sync::watch::Receiver<crate::shutdown::Shutdown>,
) -> CliResult<ExitCode> {
    let db = crate::platform::db::connect(&cfg.database.value, &cfg.platform).await?;
    tracing::info!(database = %crate::secrets::redact_url(&cfg.database.value), "platform database ready");
    db.close().await;
    if cfg.platform.bridge_argv().is_none() {
        tracing::warn!("no platform configured ([platform] config_py): start_test tasks will fail until one is");
    }
    kick_discovery(cfg, &broker).await;

    let mut wopts = WorkerOptions::from_config(cfg, worker::default_worker_id(name));
    let bopts = BeatOptions::from_config(cfg, worker::default_worker_id(name));
    // One endpoint (--metrics-addr / [worker] metrics_addr) with the beat's metrics too.
    wopts
        .extra_metrics
        .push(crate::cli::beat::metrics_part(cfg, &broker, &bopts));
    let (w, b) = tokio::join!(
        worker::run(
            wopts,
            cfg.clone(),
            broker.clone(),
            handlers(cfg),
            shutdown.clone()
        ),
        crate::beat::run(cfg.clone(), broker, bopts, shutdown),
    );
    w?;
    b?;
    Ok(ExitCode::SUCCESS)
}

/// One discovery pass at start (a duplicate if one is already queued).
async fn kick_discovery(cfg: &Config, broker: &Broker) {
    match crate::submit::build_envelope(
        cfg,
        "process_pending_tests",
        Default::default(),
        None,
        None,
    ) {
        Ok(env) => {
            if let Err(e) = broker.enqueue(&env, None).await {
                tracing::warn!(error = %e, "cannot queue the first discovery pass");
            }
        }
        Err(e) => tracing::warn!(error = %e, "cannot queue the first discovery pass"),
    }
}
