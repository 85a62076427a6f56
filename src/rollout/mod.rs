//! The staged migration from cron to the queue, and the rollback (docs/rollout.md).
//!
//! | stage | ciq services | platform flag | cron line |
//! |---|---|---|---|
//! | 0 cron only | stopped | False | `*/10` |
//! | 1 install & monitor | running | False | `*/10` through `ciq cron-guard` |
//! | 2 queue primary | running | True | `*/10` through `ciq cron-guard` |
//! | 3 queue only | running | True | commented out |
//!
//! The table's one source is [`state::expected`] and [`stage_name`]; [`stage_table`]
//! renders it, and a test holds the README, docs/*.md and the man pages to it.
//!
//! Bottom up (over `crate::sys`: byte-exact lines, backups, atomic writes, programs with a
//! time limit): the three things that change — `config_py`, `crontab`,
//! `systemd` (and `stop`, the worker's stop watched) — then `state` (the stage read from those, and drift), `plan` (the steps to
//! a target, each with its diff), `apply` (running and verifying one step), `gates`
//! (Redis health before moving forward) and `audit` (who did what, append-only).
//! Nothing here prints; the CLI renders.

pub mod apply;
pub mod audit;
pub mod config_py;
pub mod cronfmt;
pub mod crontab;
pub mod gates;
pub mod lock;
pub mod notes;
pub mod plan;
pub mod state;
pub mod stop;
pub mod systemd;

/// Everything that can go wrong while reading or changing the platform.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(transparent)]
    Fs(#[from] crate::sys::files::FsError),
    #[error(transparent)]
    Program(#[from] crate::sys::program::ProgramError),
    #[error("{what}: {msg}")]
    Unreadable { what: String, msg: String },
    #[error("{what}: {msg}")]
    Edit { what: String, msg: String },
    #[error("verification failed: {0}")]
    Verify(String),
    #[error("{0}")]
    Timeout(String),
    /// Another rollout command holds the lock.
    #[error("{0}")]
    Busy(String),
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

/// The highest stage.
pub const LAST_STAGE: u8 = 3;

/// The stage table, one row per stage: `| N name | services | flag | cron |`, rendered
/// from [`state::expected`] (what `status`, the plans and the docs' tables must agree with).
pub fn stage_table() -> Vec<String> {
    (0..=LAST_STAGE)
        .map(|s| {
            let e = state::expected(s);
            let cron = match e.cron {
                crontab::CronTarget::Every10 => "`*/10`",
                crontab::CronTarget::Guarded => "`*/10` through `ciq cron-guard`",
                crontab::CronTarget::Disabled => "commented out",
            };
            format!(
                "| {s} {} | {} | {} | {cron} |",
                stage_name(s),
                if e.services { "running" } else { "stopped" },
                if e.flag { "True" } else { "False" },
            )
        })
        .collect()
}

/// One line per stage, for plans and status.
pub fn stage_name(stage: u8) -> &'static str {
    match stage {
        0 => "cron only",
        1 => "install & monitor",
        2 => "queue primary",
        3 => "queue only",
        _ => "unknown",
    }
}
