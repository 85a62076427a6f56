//! The CLI's one error type: a kind (which decides the exit code), a one-line message
//! and an optional hint for the next step.

use std::process::ExitCode;

/// Documented exit codes (also in `ciq --help` and the README).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// 1: the operation or the awaited task failed.
    Failure = 1,
    /// 2: bad arguments or configuration.
    Usage = 2,
    /// 3: Redis unreachable, or it answered with an error.
    Broker = 3,
    /// 4: platform database unreachable or missing tables.
    Database = 4,
    /// 5: `--wait` or another bounded wait timed out.
    Timeout = 5,
    /// 6: refused for safety (no TTY without --yes, failing gate checks).
    Refused = 6,
    /// 7: only part was done (`enqueue --count N` stopped by Redis running out of memory,
    /// the ids that went in on stdout; a rollback with a skipped step).
    Partial = 7,
    /// 8: `migrate-from-cron status` found drift: not cleanly at any stage.
    Drift = 8,
    /// 9: `status` reported a CRITICAL problem (Redis itself readable).
    Critical = 9,
}

pub const EXIT_CODES_HELP: &str = "\
Exit codes:
  0  success
  1  the operation or the awaited task failed
  2  bad arguments or configuration
  3  Redis (broker) unreachable, or it refused the login, an ACL permission, the
     URL's database or a command (any other Redis error), or (status, depth) a
     cluster node or a queue could not be read
  4  platform database unreachable or missing tables
  5  a bounded wait timed out (enqueue --wait --timeout)
  6  refused for safety (no TTY and no --yes, failing rollout checks, an evicting Redis)
  7  partly done: enqueue --count stopped early (the ids that went in are on stdout),
     or a rollback with a skipped step
  8  migrate-from-cron status: DRIFT (the machine is not cleanly at any stage)
  9  status: a CRITICAL problem reported (an evicting Redis, a queue waiting for a
     worker, a worker Redis refuses, …)";

#[derive(Debug)]
pub struct CliError {
    pub kind: Kind,
    pub msg: String,
    pub hint: Option<String>,
}

impl CliError {
    pub fn new(kind: Kind, msg: impl Into<String>) -> Self {
        CliError {
            kind,
            msg: msg.into(),
            hint: None,
        }
    }
    pub fn usage(msg: impl Into<String>) -> Self {
        Self::new(Kind::Usage, msg)
    }
    pub fn failure(msg: impl Into<String>) -> Self {
        Self::new(Kind::Failure, msg)
    }
    pub fn with_hint(mut self, hint: impl Into<String>) -> Self {
        self.hint = Some(hint.into());
        self
    }

    /// Prints `error: …` (and `hint: …`) on stderr and returns the exit code.
    pub fn report(&self) -> ExitCode {
        // One line each, whatever the message quotes (a Redis or Lua error can span lines).
        let one = |s: &str| s.split_whitespace().collect::<Vec<_>>().join(" ");
        eprintln!("error: {}", one(&self.msg));
        if let Some(h) = &self.hint {
            eprintln!("hint: {}", one(h));
        }
        ExitCode::from(self.kind as u8)
    }
}

impl std::fmt::Display for CliError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.msg)
    }
}

impl From<crate::broker::Error> for CliError {
    fn from(e: crate::broker::Error) -> Self {
        match &e {
            crate::broker::Error::Unreachable { .. } => CliError::new(Kind::Broker, e.to_string())
                .with_hint(
                    "is redis-server running? check --broker / CIQ_BROKER / broker in ciq.toml",
                ),
            crate::broker::Error::NotReplicated { .. } => {
                CliError::new(Kind::Broker, e.to_string()).with_hint(
                    "check the replicas (INFO replication), or lower [broker] min_replicas",
                )
            }
            crate::broker::Error::Auth { .. } => CliError::new(Kind::Broker, e.to_string())
                .with_hint("check the user and password: CIQ_BROKER_USER, CIQ_BROKER_PASSWORD(_FILE), broker_user / broker_password_file in ciq.toml"),
            // The message already names the user and the grant: one line.
            crate::broker::Error::Permission { .. } => CliError::new(Kind::Broker, e.to_string()),
            crate::broker::Error::OutOfMemory => CliError::failure(e.to_string()).with_hint(
                "free memory (ciq purge, ciq inspect dead) or raise maxmemory; nothing was queued by this write",
            ),
            crate::broker::Error::Invalid(_) => CliError::usage(e.to_string()),
            crate::broker::Error::NoDatabase { .. } => CliError::new(Kind::Broker, e.to_string())
                .with_hint("the /N at the end of the broker URL must be below the server's `databases` setting (16 by default): use /0"),
            crate::broker::Error::Redis(_) => CliError::new(Kind::Broker, e.to_string()),
        }
    }
}

impl From<crate::platform::Error> for CliError {
    fn from(e: crate::platform::Error) -> Self {
        use crate::platform::Error as E;
        let hint = match &e {
            E::InvalidUrl(_) => return CliError::usage(e.to_string()),
            E::Unreachable { url, .. } if url.starts_with("sqlite:") => {
                "can ciq read and write that file and its directory? check --database / CIQ_DATABASE / database in ciq.toml"
            }
            E::Unreachable { .. } => {
                "is the database server running? check --database / CIQ_DATABASE / database in ciq.toml"
            }
            E::Schema { .. } => {
                "point ciq at the platform's own database, or create the tables with the platform's migrations"
            }
            E::Query(_) => "see the database server's log",
        };
        CliError::new(Kind::Database, e.to_string()).with_hint(hint)
    }
}

impl From<crate::config::ConfigError> for CliError {
    fn from(e: crate::config::ConfigError) -> Self {
        CliError::usage(e.to_string())
    }
}

pub type CliResult<T = ()> = Result<T, CliError>;
