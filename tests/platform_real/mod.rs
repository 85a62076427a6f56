//! The real CCExtractor Sample Platform (third_party/sample-platform, unmodified) run by the
//! tests: its own code on its own MariaDB database, with fakes for the GCP compute API and
//! GitHub put in place from the test's side (tests/platform_py/sitecustomize.py first on
//! PYTHONPATH). Needs `.venv-platform/` (./install.sh --test-deps).
//!
//! `RealPlatform` is one platform install per test: its MariaDB database (dropped on drop),
//! a platform folder (a symlink farm of the vendored copy plus a generated config.py, secret
//! keys, a service-account JSON with a fresh RSA key, and a git repo as INSTALL_FOLDER), a
//! fake-state directory shared by every Python process of the test, and a lock directory
//! for the bridge's read/write lock.

#![allow(dead_code)]

mod bridge;
mod bridge_runs;
mod ciq;
mod config_py;
mod contrib;
mod db;
mod fakes;
mod fixture;
mod gcp_delete;
mod lock;
mod processes;
mod queue;
mod seed;

pub use bridge_runs::BridgeOut;
pub use fakes::GhStatus;
pub use fixture::Options;

use serde_json::{json, Value};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

pub fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The vendored, unmodified platform.
pub fn vendored_platform() -> PathBuf {
    repo_root().join("third_party/sample-platform")
}

/// The platform venv's python; a clear failure when install.sh --test-deps was not run.
pub fn platform_python() -> PathBuf {
    let p = repo_root().join(".venv-platform/bin/python");
    assert!(
        p.exists(),
        "{} is missing: run ./install.sh --test-deps (it creates the sample platform's venv)",
        p.display()
    );
    p
}

pub fn bridge_script() -> PathBuf {
    repo_root().join("contrib/sample-platform/ciq_bridge.py")
}

pub struct RealPlatform {
    /// The platform folder (cwd of every platform process) and its INSTALL_FOLDER.
    pub dir: PathBuf,
    /// CIQ_FAKE_STATE: the fake GCP and GitHub shared by the processes of this test.
    pub state: PathBuf,
    /// The bridge's --lock-dir.
    pub lock_dir: PathBuf,
    /// SAMPLE_REPOSITORY (start_test writes vm_data/ here).
    pub samples: PathBuf,
    /// The MariaDB database name.
    pub db_name: String,
    /// The secret GITHUB_TOKEN written to config.py (tests check it never leaks).
    pub github_token: String,
    tmp: tempfile::TempDir,
    rt: tokio::runtime::Runtime,
    pool: sqlx::MySqlPool,
    admin_url: String,
}

fn mysql_base() -> String {
    std::env::var("CIQ_TEST_MYSQL").unwrap_or_else(|_| "mysql://root@127.0.0.1:3306".into())
}

fn run_ok(cmd: &mut Command, what: &str) -> Output {
    let o = cmd
        .output()
        .unwrap_or_else(|e| panic!("{what}: cannot run: {e}"));
    assert!(
        o.status.success(),
        "{what} failed ({}):\n{}\n{}",
        o.status,
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
    o
}
