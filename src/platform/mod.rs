//! The CI platform's database (sqlx: MySQL/MariaDB, PostgreSQL, SQLite) and its three
//! tasks (DESIGN §1–§2).
//!
//! - `db`: connect (pool with timeouts), per-backend SQL dialect.
//! - `schema`: check the tables and columns ciq uses; create them only in the SQLite
//!   file ciq owns.
//! - `queries`: every statement ciq runs against the platform's tables.
//! - `errors`: cloud error codes -> the message a contributor sees.
//! - `tasks`: `start_test`, `process_pending_tests`, `check_expired_instances`.
//! - `handler`: plugs the tasks into the worker with one shared pool per process.
//!
//! Exactly once: a test is started only by whoever inserts its `gcp_instance` row
//! `<platform>-<id>` (a primary key, so a second starter — another worker or the old cron
//! job — gets a duplicate key and stops). The row is removed again when the start fails.

pub mod db;
pub mod errors;
pub mod handler;
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
