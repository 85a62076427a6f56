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
use std::path::PathBuf;

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

    pub fn path(&self, name: &str) -> PathBuf {
        self.ciq.dir().join(name)
    }

    /// Writes an executable shell script in the test directory; returns its path.
    pub fn script(&self, name: &str, body: &str) -> String {
        let p = self.path(name);
        std::fs::write(&p, format!("#!/bin/sh\n{body}\n")).expect("write script");
        p.display().to_string()
    }

    /// ciq.toml: this database, fast retries, and `extra` appended.
    pub fn config(&self, extra: &str) {
        self.ciq.config(&format!(
            "database = \"{}\"\n\n[tasks.start_test]\nbackoff = \"100ms\"\nbackoff_max = \"200ms\"\n\n{extra}\n",
            self.db.url
        ));
    }

    pub fn worker(&mut self, name: &str) {
        let w = self.ciq.spawn_worker(name, &[]);
        self.workers.push(w);
    }

    /// Lines of a file the runner scripts append to.
    pub fn lines(&self, name: &str) -> Vec<String> {
        std::fs::read_to_string(self.path(name))
            .unwrap_or_default()
            .lines()
            .map(String::from)
            .collect()
    }

    pub fn logs(&self) -> String {
        (1..=4).map(|i| self.ciq.log(&format!("w{i}"))).collect()
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
        mod $name {
            #[test]
            fn sqlite() {
                $body(crate::platform::db::Backend::Sqlite)
            }
            #[test]
            fn mysql() {
                $body(crate::platform::db::Backend::MySql)
            }
            #[test]
            fn postgres() {
                $body(crate::platform::db::Backend::Postgres)
            }
        }
    };
}
pub(crate) use on_all_backends;
