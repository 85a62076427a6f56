//! Platform tasks against real databases (SQLite file, MariaDB, PostgreSQL): exactly-once
//! starts, error mapping, expiry, schema checks. Each test has its own database and
//! its own redis-server.

pub mod db;
mod discovery;
mod resilience;
mod schema;
mod up;

use crate::harness::*;
use db::{Backend, TestDb};

/// A Redis, a platform database, a config directory and workers to stop at the end.
pub struct Env {
    pub redis: Redis,
    pub ciq: Ciq,
    pub db: TestDb,
    pub workers: Vec<Proc>,
}

impl Env {
    pub fn new(b: Backend) -> Env {
        let redis = Redis::start();
        let ciq = Ciq::new(&redis);
        let db = TestDb::new(b);
        Env {
            redis,
            ciq,
            db,
            workers: vec![],
        }
    }

    /// ciq.toml: this database, fast retries, and `extra` appended.
    pub fn config(&self, extra: &str) {
        self.ciq.config(&format!(
            "database = \"{}\"\n\n[tasks.start_test]\nbackoff = \"100ms\"\nbackoff_max = \"200ms\"\n\n{extra}\n",
            self.db.url
        ));
    }
}

impl Drop for Env {
    fn drop(&mut self) {
        for w in &mut self.workers {
            sigkill(w);
        }
    }
}

/// Declares one test per backend: `name::sqlite`, `name::mysql`, `name::postgres`.
macro_rules! on_all_backends {
    ($name:ident, $body:path) => {
        test_each!(
            $name,
            $body,
            sqlite => crate::platform::db::Backend::Sqlite,
            mysql => crate::platform::db::Backend::MySql,
            postgres => crate::platform::db::Backend::Postgres,
        );
    };
}
pub(crate) use on_all_backends;
