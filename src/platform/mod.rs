//! The CCExtractor Sample Platform: ciq wraps its own code instead of re-implementing it.
//!
//! - `db`, `schema`, `queries`: read the platform's database (sqlx: MySQL/MariaDB,
//!   PostgreSQL, SQLite) for discovery. ciq never writes it.
//! - `bridge`: runs contrib/sample-platform/ciq_bridge.py, which calls the platform's own
//!   `start_test`, `verify_pending_deletions`, `scan_for_orphaned_vms` and
//!   `delete_expired_instances`, and reads its reply.
//! - `mode`: active or shadow, from the platform's flag at run time.
//! - `cron_lock`: the lock the bridge's starts (shared), `maintain` and `ciq cron-guard`
//!   (exclusive) take, so the cron and ciq never start a test twice or delete a VM a
//!   start is still creating.
//! - `tasks`: `process_pending_tests`, `start_test`, `maintain`.
//! - `handler`: plugs the tasks into the worker.
//!
//! Exactly once: one `start_test` task per test (unique key), one bridge process per test
//! (its per-test lock), the platform's own guards (an existing `gcp_instance` or progress
//! row), and the cron excluded while ciq starts (`cron_lock`).

pub mod bridge;
pub mod cron_lock;
pub mod db;
pub mod handler;
pub mod mode;
pub mod queries;
pub mod schema;
pub mod tasks;

pub use db::Db;

/// Errors talking to the platform's database. Messages never contain passwords.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("bad database URL {0}: use mysql://, postgres:// or sqlite://")]
    InvalidUrl(String),
    #[error("platform database {url} unreachable: {msg}")]
    Unreachable { url: String, msg: String },
    #[error("platform database {url} is missing {}; ciq never creates or alters tables in a database it does not own", .missing.join(", "))]
    Schema { url: String, missing: Vec<String> },
    #[error("platform database query failed: {0}")]
    Query(String),
}

impl From<sqlx::Error> for Error {
    fn from(e: sqlx::Error) -> Self {
        Error::Query(e.to_string())
    }
}

pub type Result<T> = std::result::Result<T, Error>;

/// A test id as the platform stores it (`INT`).
pub type TestId = i32;
