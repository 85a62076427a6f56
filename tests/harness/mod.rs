//! Test harness, one for every test: a throwaway `redis-server` per test on a free
//! loopback port (`Redis`, killed on drop; `redis_server` is the one place a Redis
//! process is started), a runner for the real `ciq` binary with a cleared environment
//! (`Ciq`, with `depth`), child processes stopped as an operator stops them
//! (`Proc::stop`), and key names built by ciq's own key module (`keys`).

#![allow(dead_code)]

/// Declares `mod name` with one test per case, `name::case`, each running `body(arg)`.
macro_rules! test_each {
    ($name:ident, $body:path, $($case:ident => $arg:expr),+ $(,)?) => {
        mod $name {
            $(
                #[test]
                fn $case() {
                    $body($arg)
                }
            )+
        }
    };
}

pub mod databases;
pub mod keys;
mod proc;
pub mod proxy;
mod redis_server;
#[macro_use]
pub mod via;

pub use proc::*;
pub use redis_server::*;

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

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

    /// Starts `ciq <args>` in the background with the given stdout and stderr.
    pub fn spawn(&self, args: &[&str], stdout: Stdio, stderr: Stdio) -> Proc {
        self.cmd(args)
            .stdout(stdout)
            .stderr(stderr)
            .spawn()
            .map(Proc)
            .unwrap_or_else(|e| panic!("spawn ciq {args:?}: {e}"))
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

    /// `ciq enqueue noop --count N --args-json ARGS`, in one call.
    pub fn enqueue_noops(&self, n: usize, args_json: &str) {
        self.ok(&[
            "enqueue",
            "noop",
            "--count",
            &n.to_string(),
            "--args-json",
            args_json,
        ]);
    }

    /// Runs and asserts exit `code`; returns stderr.
    pub fn fails(&self, args: &[&str], code: i32) -> String {
        let o = self.run(args);
        assert_eq!(o.status.code(), Some(code));
        String::from_utf8_lossy(&o.stderr).to_string()
    }

    /// Declares task `name` run by a shell script (`sh <dir>/<name>.sh`, written with
    /// `script`) that gets this ciq's folder as `$DIR`; `settings` are the task's other
    /// lines of ciq.toml, each ending in a newline.
    pub fn exec_script_task(&self, name: &str, settings: &str, script: &str) {
        let dir = self.dir().display().to_string();
        let path = self.dir().join(format!("{name}.sh"));
        std::fs::write(&path, script).unwrap();
        self.config(&format!(
            "[tasks.{name}]\n{settings}runner = {{ exec = [\"sh\", \"{}\"], env = {{ DIR = \"{dir}\" }} }}\n",
            path.display()
        ));
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

    /// `ciq depth --json QUEUE`: that queue's row (`ciq.depth("default")["pending"]`).
    pub fn depth(&self, queue: &str) -> serde_json::Value {
        self.depth_json(&[queue])[0].clone()
    }

    /// `ciq depth --json`: every queue's row.
    pub fn depth_all(&self) -> serde_json::Value {
        self.depth_json(&[])
    }

    fn depth_json(&self, queues: &[&str]) -> serde_json::Value {
        let mut args = vec!["depth", "--json"];
        args.extend_from_slice(queues);
        serde_json::from_str(&self.ok(&args)).expect("depth --json")
    }

    /// `ciq inspect dead --json`: the dead tasks.
    pub fn dead(&self) -> Vec<serde_json::Value> {
        serde_json::from_str(&self.ok(&["inspect", "dead", "--json"])).expect("inspect dead --json")
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

/// `ciq enqueue ARGS…` of one task; returns its id.
pub fn enqueue(ciq: &Ciq, args: &[&str]) -> String {
    let mut a = vec!["enqueue"];
    a.extend_from_slice(args);
    ciq.ok(&a).trim().lines().next().unwrap().to_string()
}

/// A command's stdout as text.
pub fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).to_string()
}

/// A command's stderr as text.
pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).to_string()
}

/// One `error:` line on stderr (a `hint:` line may follow) containing `needle`.
pub fn assert_one_error(o: &Output, code: i32, needle: &str) {
    let err = stderr(o);
    assert_eq!(o.status.code(), Some(code), "exit code; stderr: {err}");
    let errors: Vec<&str> = err.lines().filter(|l| l.starts_with("error:")).collect();
    assert_eq!(errors.len(), 1, "one error line: {err}");
    assert!(errors[0].contains(needle), "{needle:?} in {err}");
    assert!(
        err.lines()
            .all(|l| l.starts_with("error:") || l.starts_with("hint:")),
        "nothing but the error and its hint: {err}"
    );
}

/// `ciq platform check` succeeds and warns of the gcp_instance row `vm` with no test_id
/// and of the tests `tests` (as it lists them) with progress rows but no instance.
pub fn assert_platform_check_warns(ciq: &Ciq, vm: &str, tests: &str) {
    let o = ciq.run(&["platform", "check"]);
    let err = stderr(&o);
    assert!(o.status.success(), "{err}");
    assert!(
        err.contains(&format!("gcp_instance row(s) {vm} have no test_id")),
        "{err}"
    );
    assert!(
        err.contains(&format!(
            "test(s) {tests} have progress rows but no instance"
        )),
        "{err}"
    );
}

/// Every file under `dir`, recursively.
pub fn files_below(dir: &Path, out: &mut Vec<PathBuf>) {
    for e in std::fs::read_dir(dir).unwrap().flatten() {
        let p = e.path();
        if p.is_dir() {
            files_below(&p, out);
        } else {
            out.push(p);
        }
    }
}

/// Wall-clock time in ms since the epoch.
pub fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as u64
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
