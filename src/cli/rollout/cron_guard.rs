//! `ciq cron-guard -- COMMAND`: what the platform's cron line runs during stages 1–2 of
//! the migration. It keeps the cron and ciq from ever starting the same test twice, and
//! makes the cron the automatic fallback when the queue cannot run.

use crate::broker::{now_ms, Broker};
use crate::cli::{CliError, CliResult, Ctx};
use crate::platform::cron_lock::{self, Kind};
use crate::platform::mode::{self, Effective};
use std::io::Write;
use std::path::Path;
use std::process::ExitCode;
use std::time::Duration;

/// Run the platform's cron command under the platform lock, or skip it while the queue
/// is primary and healthy.
///
/// With the platform's flag off (stage 1, shadow) the cron runs every time. With it on
/// (stage 2) the cron runs only when the queue cannot: the broker is unreachable, no
/// worker heartbeat is fresh, or no beat holds the leader lease. The cron runs holding
/// the platform lock exclusively (ciq's starts hold it shared), so a cron run and a ciq
/// start never overlap. Each decision is appended to --log and noted in Redis for
/// `ciq status`. Exit: the command's own status; 0 when skipped; 1 when the lock could
/// not be taken within --lock-wait.
#[derive(Debug, clap::Args)]
#[command(
    after_help = "Example crontab line (what ciq migrate-from-cron writes in stages 1-2):\n  */10 * * * * /usr/local/bin/ciq --config /etc/ciq/ciq.toml cron-guard -- 'python3 /var/www/sample-platform/mod_ci/cron.py > /var/www/sample-platform/logs/cron.log 2>&1'"
)]
pub struct CronGuardArgs {
    /// Run the command whatever the queue's state (still under the lock).
    #[arg(long)]
    pub always: bool,
    /// How long to wait for running starts to release the platform lock.
    #[arg(long, default_value = "9m", value_parser = crate::config::parse_duration, value_name = "DURATION")]
    pub lock_wait: Duration,
    /// Append each decision here.
    #[arg(
        long,
        default_value = "/var/log/ciq/cron-guard.log",
        value_name = "FILE"
    )]
    pub log: std::path::PathBuf,
    /// The cron command: one argument runs through /bin/sh -c, several run as argv.
    #[arg(last = true, required = true, value_name = "COMMAND")]
    pub command: Vec<String>,
}

pub async fn run(a: CronGuardArgs, ctx: &Ctx) -> CliResult<ExitCode> {
    let cfg = &ctx.config;
    let reason = if a.always {
        Some("--always".to_string())
    } else {
        match mode::effective(cfg) {
            Ok(Effective::Shadow) => Some("the platform's flag is off: the cron is primary".into()),
            Err(e) => Some(format!(
                "cannot tell the mode ({e}): running the cron to be safe"
            )),
            Ok(Effective::Active) => {
                let r = cfg.rollout.resolve().map_err(CliError::usage)?;
                match crate::rollout::gates::queue_available(cfg, &r, now_ms()).await {
                    Ok(detail) => {
                        note(&a.log, ctx, "skip", &format!("queue healthy ({detail})")).await;
                        return Ok(ExitCode::SUCCESS);
                    }
                    Err(why) => Some(format!(
                        "queue unavailable ({why}): running the cron as the fallback"
                    )),
                }
            }
        }
    };
    let reason = reason.unwrap_or_default();
    let dir = cfg.platform.lock_dir();
    let wait = a.lock_wait;
    let held =
        tokio::task::spawn_blocking(move || cron_lock::acquire(&dir, Kind::Exclusive, Some(wait)))
            .await
            .map_err(|e| CliError::failure(format!("lock task failed: {e}")))?
            .map_err(|e| {
                CliError::failure(format!(
                    "cannot open the platform lock in {}: {e}",
                    cfg.platform.lock_dir().display()
                ))
                .with_hint("set [platform] lock_dir to a directory the cron's user can write")
            })?;
    let Some(held) = held else {
        let msg = format!(
            "platform lock busy for {}: starts still running; this cron run is skipped",
            humantime::format_duration(a.lock_wait)
        );
        note(&a.log, ctx, "busy", &msg).await;
        return Err(CliError::failure(msg));
    };
    note(&a.log, ctx, "run", &reason).await;
    let status = run_command(&a.command, held.run_fd()).await?;
    drop(held);
    Ok(match status.code() {
        Some(c) => ExitCode::from(u8::try_from(c).unwrap_or(1)),
        None => ExitCode::from(1),
    })
}

/// Runs the cron command; it inherits the lock's descriptor, so the lock stays held
/// until the command ends even if this guard is killed.
async fn run_command(command: &[String], lock_fd: i32) -> CliResult<std::process::ExitStatus> {
    let mut cmd = if command.len() == 1 {
        let mut c = tokio::process::Command::new("/bin/sh");
        c.arg("-c").arg(&command[0]);
        c
    } else {
        let mut c = tokio::process::Command::new(&command[0]);
        c.args(&command[1..]);
        c
    };
    // SAFETY: only async-signal-safe fcntl calls between fork and exec.
    unsafe {
        cmd.pre_exec(move || {
            let flags = libc::fcntl(lock_fd, libc::F_GETFD);
            if flags >= 0 {
                libc::fcntl(lock_fd, libc::F_SETFD, flags & !libc::FD_CLOEXEC);
            }
            Ok(())
        });
    }
    cmd.status()
        .await
        .map_err(|e| CliError::failure(format!("cannot run {:?}: {e}", command[0])))
}

/// Appends the decision to the log file (stderr when it cannot) and notes it in Redis.
async fn note(log: &Path, ctx: &Ctx, action: &str, detail: &str) {
    let at = chrono::Utc::now().format("%Y-%m-%dT%H:%M:%SZ");
    let line = format!("{at} {action}: {detail}\n");
    let appended = log.parent().map(std::fs::create_dir_all);
    let wrote = matches!(appended, Some(Ok(())) | None)
        && std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(log)
            .and_then(|mut f| f.write_all(line.as_bytes()))
            .is_ok();
    if !wrote && !ctx.quiet {
        eprint!("ciq cron-guard: {line}");
    }
    let json =
        serde_json::json!({"at_ms": now_ms(), "action": action, "detail": detail}).to_string();
    let fut = async {
        let b = Broker::connect(&ctx.config.broker.value).await.ok()?;
        b.set_guard_last(&json).await.ok()
    };
    let _ = tokio::time::timeout(Duration::from_secs(2), fut).await;
}
