//! Test harness: a throwaway `redis-server` per test on a free loopback port (killed on
//! drop) and a runner for the real `ciq` binary with a cleared environment.

#![allow(dead_code)]

pub mod proxy;
pub mod via;

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
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
        let mut cmd = Command::new("redis-server");
        cmd.args(["--bind", "127.0.0.1", "--port", &self.port.to_string()])
            .args(["--save", "", "--daemonize", "no", "--protected-mode", "yes"])
            .arg("--dir")
            .arg(self.dir.path())
            .args(["--appendonly", if self.aof { "yes" } else { "no" }])
            .args(["--appendfsync", "always"])
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        let child = cmd.spawn().unwrap_or_else(|e| {
            panic!("cannot start redis-server ({e}): install it (./install.sh does, or apt-get install redis-server)")
        });
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

pub fn ciq_bin() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_ciq"))
}

/// The `ciq` binary with a cleared environment, a temp HOME and cwd, and the broker set.
pub struct Ciq {
    pub home: tempfile::TempDir,
    pub broker: String,
}

impl Ciq {
    /// Starts with an empty `ciq.toml`, which every command is pointed at (`CIQ_CONFIG`):
    /// a test never reads the host's `/etc/ciq/ciq.toml`.
    pub fn new(redis: &Redis) -> Ciq {
        let ciq = Ciq {
            home: tempfile::tempdir().expect("tempdir"),
            broker: redis.url(),
        };
        ciq.config("");
        ciq
    }

    pub fn config_path(&self) -> PathBuf {
        self.dir().join("ciq.toml")
    }

    pub fn dir(&self) -> &Path {
        self.home.path()
    }

    /// Writes `ciq.toml` in the working directory.
    pub fn config(&self, text: &str) -> &Self {
        std::fs::write(self.config_path(), text).expect("write ciq.toml");
        self
    }

    pub fn cmd(&self, args: &[&str]) -> Command {
        self.cmd_via(&[], args)
    }

    /// Like `cmd`, run through a wrapper program (e.g. `["env", "LD_PRELOAD=…"]`).
    pub fn cmd_via(&self, wrapper: &[&str], args: &[&str]) -> Command {
        let mut c = match wrapper.split_first() {
            Some((prog, rest)) => {
                let mut c = Command::new(prog);
                c.args(rest).arg(ciq_bin());
                c
            }
            None => Command::new(ciq_bin()),
        };
        c.env_clear()
            .env("HOME", self.dir())
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("CIQ_BROKER", &self.broker)
            .env("CIQ_CONFIG", self.config_path())
            .current_dir(self.dir())
            .args(args);
        c
    }

    pub fn run(&self, args: &[&str]) -> Output {
        self.cmd(args).output().expect("ciq runs")
    }

    /// Runs and asserts exit 0; returns stdout.
    pub fn ok(&self, args: &[&str]) -> String {
        let o = self.run(args);
        assert!(
            o.status.success(),
            "ciq {args:?} failed: {}\nstdout: {}\nstderr: {}",
            o.status,
            String::from_utf8_lossy(&o.stdout),
            String::from_utf8_lossy(&o.stderr)
        );
        String::from_utf8_lossy(&o.stdout).to_string()
    }

    /// `ciq status --json`'s stdout; its exit code must be 0, or 9 when it reports a
    /// CRITICAL problem (and then a problem says so).
    pub fn status_json(&self) -> String {
        let o = self.run(&["status", "--json"]);
        let out = String::from_utf8_lossy(&o.stdout).to_string();
        let critical = out.contains("\"severity\": \"critical\"");
        assert_eq!(
            o.status.code(),
            Some(if critical { 9 } else { 0 }),
            "status --json: {out}\n{}",
            String::from_utf8_lossy(&o.stderr)
        );
        out
    }

    /// Starts `ciq work` with fast timing knobs; logs go to a file in the temp dir.
    pub fn spawn_worker(&self, name: &str, extra: &[&str]) -> Proc {
        self.spawn_worker_via(&[], name, extra)
    }

    /// `spawn_worker` through a wrapper program (see `cmd_via`).
    pub fn spawn_worker_via(&self, wrapper: &[&str], name: &str, extra: &[&str]) -> Proc {
        let mut c = self.worker_cmd_via(wrapper, name, extra);
        // Fast knobs through the environment so `extra` flags can override them.
        c.env("CIQ_LEASE", "2s")
            .env("CIQ_HEARTBEAT", "500ms")
            .env("CIQ_SWEEP", "500ms")
            .env("CIQ_UPKEEP_LEASE", "1s")
            .env("CIQ_SHUTDOWN_TIMEOUT", "5s");
        c.spawn().map(Proc).expect("spawn worker")
    }

    /// Starts `ciq work` with the shipped timing defaults (20 s lease, 5 s sweep).
    pub fn spawn_worker_at_defaults(&self, name: &str, extra: &[&str]) -> Proc {
        self.worker_cmd(name, extra)
            .spawn()
            .map(Proc)
            .expect("spawn worker")
    }

    fn worker_cmd(&self, name: &str, extra: &[&str]) -> Command {
        self.worker_cmd_via(&[], name, extra)
    }

    fn worker_cmd_via(&self, wrapper: &[&str], name: &str, extra: &[&str]) -> Command {
        let log = std::fs::File::create(self.dir().join(format!("{name}.log"))).unwrap();
        let mut args = vec!["work", "--name", name];
        args.extend_from_slice(extra);
        let mut c = self.cmd_via(wrapper, &args);
        c.stdout(Stdio::null()).stderr(log);
        c
    }

    pub fn log(&self, name: &str) -> String {
        std::fs::read_to_string(self.dir().join(format!("{name}.log"))).unwrap_or_default()
    }
}

/// A child process that is killed when dropped, so a failing test leaks no worker.
pub struct Proc(pub Child);

impl std::ops::Deref for Proc {
    type Target = Child;
    fn deref(&self) -> &Child {
        &self.0
    }
}

impl std::ops::DerefMut for Proc {
    fn deref_mut(&mut self) -> &mut Child {
        &mut self.0
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

pub fn sigterm(child: &Child) {
    unsafe {
        libc::kill(child.id() as i32, libc::SIGTERM);
    }
}

pub fn sigkill(child: &mut Child) {
    let _ = child.kill();
    let _ = child.wait();
}

/// Config overrides for tests that call the library: an explicit (empty) config file,
/// so `config::load` never falls back to the host's `/etc/ciq/ciq.toml`.
pub fn lib_overrides(dir: &Path, broker: &str) -> ciq::config::Overrides {
    use ciq::config::{Source, Sourced};
    let path = dir.join("ciq.toml");
    if !path.exists() {
        std::fs::write(&path, "").expect("write ciq.toml");
    }
    ciq::config::Overrides {
        config: Some(path),
        broker: Some(Sourced::new(broker.to_string(), Source::Flag)),
        ..Default::default()
    }
}

/// Runs a future on a fresh current-thread runtime (tests that call the library).
pub fn block_on<F: std::future::Future>(fut: F) -> F::Output {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("tokio runtime")
        .block_on(fut)
}

/// Polls `f` until it returns true or the timeout passes.
pub fn wait_until(timeout: Duration, mut f: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + timeout;
    while Instant::now() < deadline {
        if f() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(25));
    }
    f()
}

/// Waits for a child to exit within the timeout; returns its status.
pub fn wait_exit(child: &mut Child, timeout: Duration) -> Option<std::process::ExitStatus> {
    let deadline = Instant::now() + timeout;
    while Instant::now() < deadline {
        if let Ok(Some(s)) = child.try_wait() {
            return Some(s);
        }
        std::thread::sleep(Duration::from_millis(25));
    }
    None
}

/// Runs `cmd` to its end, or kills it after `limit` (a regression must fail the test,
/// not hang it); panics naming the command when it had to be killed.
pub fn bounded(mut cmd: std::process::Command, limit: Duration) -> std::process::Output {
    use std::io::Read;
    let mut child = Proc(
        cmd.stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap(),
    );
    let status = wait_exit(&mut child, limit)
        .unwrap_or_else(|| panic!("{cmd:?} still runs after {limit:?}"));
    let (mut out, mut err) = (vec![], vec![]);
    child.stdout.take().unwrap().read_to_end(&mut out).unwrap();
    child.stderr.take().unwrap().read_to_end(&mut err).unwrap();
    std::process::Output {
        status,
        stdout: out,
        stderr: err,
    }
}
