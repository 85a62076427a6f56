//! A throwaway `redis-server` per test on a free loopback port, killed on drop, and the
//! one place a test starts a `redis-server` process (`redis_server`): the harness's
//! `Redis`, the TLS broker, and the Sentinel and Cluster nodes all go through it.

use std::ffi::OsStr;
use std::net::TcpListener;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .expect("bind a free port")
        .local_addr()
        .unwrap()
        .port()
}

/// A private `redis-server`. Dropping it kills it.
pub struct Redis {
    pub port: u16,
    pub dir: tempfile::TempDir,
    child: Option<Child>,
    aof: bool,
}

impl Redis {
    pub fn start() -> Redis {
        Self::start_with(false)
    }

    /// With AOF on (`appendfsync always`), so a restart keeps everything.
    pub fn start_aof() -> Redis {
        Self::start_with(true)
    }

    /// On a given port; panics unless the server answering there is the one it started.
    pub fn start_on_port(port: u16) -> Redis {
        Self::start_at(port, false)
    }

    fn start_with(aof: bool) -> Redis {
        Self::start_at(free_port(), aof)
    }

    fn start_at(port: u16, aof: bool) -> Redis {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut r = Redis {
            port,
            dir,
            child: None,
            aof,
        };
        r.spawn();
        r
    }

    fn spawn(&mut self) {
        let port = self.port.to_string();
        let dir = self.dir.path().to_string_lossy().into_owned();
        let aof = if self.aof { "yes" } else { "no" };
        #[rustfmt::skip]
        let child = redis_server([
            "--bind", "127.0.0.1", "--port", &port,
            "--save", "", "--daemonize", "no", "--protected-mode", "yes",
            "--dir", &dir, "--appendonly", aof, "--appendfsync", "always",
        ]);
        let pid = child.id();
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if let Some(st) = self
                .child
                .as_mut()
                .and_then(|c| c.try_wait().ok().flatten())
            {
                panic!(
                    "redis-server on port {} exited at start ({st}): is the port taken?",
                    self.port
                );
            }
            if self.try_cli(&["PING"]).is_ok_and(|o| o.trim() == "PONG") {
                // Any server answers PING; only ours has our child's pid.
                let answering = self.server_pid();
                assert_eq!(
                    answering,
                    Some(pid),
                    "the server answering on port {} is not the redis-server this test started",
                    self.port
                );
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        panic!("redis-server on port {} did not answer PING", self.port);
    }

    /// `process_id` from `INFO server` of whatever answers on our port.
    pub fn server_pid(&self) -> Option<u32> {
        self.cli(&["INFO", "server"])
            .lines()
            .find_map(|l| l.strip_prefix("process_id:"))
            .and_then(|v| v.trim().parse().ok())
    }

    /// The pid of the redis-server this harness spawned (None once killed).
    pub fn child_pid(&self) -> Option<u32> {
        self.child.as_ref().map(|c| c.id())
    }

    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}/0", self.port)
    }

    /// Runs a Redis command with redis-cli; its output, or why it failed (it could not
    /// connect, or Redis answered with an error).
    pub fn try_cli(&self, args: &[&str]) -> Result<String, String> {
        let out = Command::new("redis-cli")
            .args(["-h", "127.0.0.1", "-p", &self.port.to_string()])
            .args(args)
            .output()
            .expect("redis-cli runs");
        let stdout = String::from_utf8_lossy(&out.stdout).to_string();
        let stderr = String::from_utf8_lossy(&out.stderr).to_string();
        // redis-cli exits 0 for an error reply in a pipe; it prints "(error) ..." or "ERR ...".
        let error_reply = [
            "(error)",
            "ERR ",
            "WRONGTYPE ",
            "LOADING ",
            "NOSCRIPT ",
            "BUSY",
        ]
        .iter()
        .any(|p| stdout.starts_with(p));
        if out.status.success() && !error_reply {
            Ok(stdout)
        } else {
            Err(format!(
                "redis-cli {args:?} on port {} failed ({}): {}{}",
                self.port,
                out.status,
                stdout.trim(),
                stderr.trim()
            ))
        }
    }

    /// Runs a Redis command with redis-cli; returns its raw output. Panics if it fails.
    pub fn cli(&self, args: &[&str]) -> String {
        self.try_cli(args).unwrap_or_else(|e| panic!("{e}"))
    }

    /// An integer reply; a nil reply (a missing key) is 0. Panics if redis-cli fails or
    /// the reply is not an integer, so a dead server never reads as "0 tasks".
    pub fn int(&self, args: &[&str]) -> i64 {
        let out = self.cli(args);
        let t = out.trim();
        if t.is_empty() {
            return 0;
        }
        t.parse()
            .unwrap_or_else(|_| panic!("redis-cli {args:?}: not an integer: {t:?}"))
    }

    /// The items of a list, front first (`LRANGE key 0 -1`).
    pub fn list(&self, key: &str) -> Vec<String> {
        self.cli(&["LRANGE", key, "0", "-1"])
            .lines()
            .map(String::from)
            .filter(|l| !l.is_empty())
            .collect()
    }

    /// One of a queue's counters (`done`, `failed`, `retried`, `dead`, `recovered`).
    pub fn stat(&self, queue: &str, field: &str) -> i64 {
        self.int(&["HGET", &super::keys::q(queue).stats, field])
    }

    pub fn kill(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// Kills and starts it again on the same port and directory.
    pub fn restart(&mut self) {
        self.kill();
        self.spawn();
    }
}

impl Drop for Redis {
    fn drop(&mut self) {
        self.kill();
    }
}

/// Starts `redis-server` with these arguments, its output discarded: every test that
/// needs a Redis process (the harness's `Redis`, the TLS broker, Sentinel and Cluster
/// nodes) starts it here. Panics saying how to install it when it is missing.
pub fn redis_server<I, S>(args: I) -> Child
where
    I: IntoIterator<Item = S>,
    S: AsRef<OsStr>,
{
    Command::new("redis-server")
        .args(args)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap_or_else(|e| {
            panic!("cannot start redis-server ({e}): install it (./install.sh does, or apt-get install redis-server)")
        })
}
