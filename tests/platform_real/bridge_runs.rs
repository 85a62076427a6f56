//! Runs of ciq_bridge.py against the test's platform, and what one run printed.

use super::*;
use std::time::Duration;

/// What one bridge run printed: its exit code, the JSON of its last stdout line, its stderr.
#[derive(Debug)]
pub struct BridgeOut {
    pub code: i32,
    pub json: Value,
    pub stderr: String,
}

impl BridgeOut {
    pub fn from_output(o: &Output) -> BridgeOut {
        let stdout = String::from_utf8_lossy(&o.stdout);
        let stderr = String::from_utf8_lossy(&o.stderr).to_string();
        let last = stdout
            .lines()
            .rev()
            .find(|l| !l.trim().is_empty())
            .unwrap_or("");
        let json = serde_json::from_str(last).unwrap_or_else(|e| {
            panic!("the bridge's last stdout line is not JSON ({e}): {stdout:?}\nstderr:\n{stderr}")
        });
        BridgeOut {
            code: o.status.code().unwrap_or(-1),
            json,
            stderr,
        }
    }
    /// The "result" field.
    pub fn result(&self) -> &str {
        self.json["result"].as_str().unwrap_or("")
    }
    pub fn reason(&self) -> &str {
        self.json["reason"].as_str().unwrap_or("")
    }
}

impl RealPlatform {
    /// The bridge's argv before the command: `[python, ciq_bridge.py, --platform-dir, DIR,
    /// --lock-dir, LOCKS]` (append e.g. `start-test`, `{test_id}` in a ciq exec runner).
    pub fn bridge_argv(&self) -> Vec<String> {
        vec![
            platform_python().display().to_string(),
            bridge_script().display().to_string(),
            "--platform-dir".into(),
            self.dir.display().to_string(),
            "--lock-dir".into(),
            self.lock_dir.display().to_string(),
        ]
    }

    /// `python ciq_bridge.py --platform-dir DIR --lock-dir LOCKS <args>` (not yet run).
    pub fn bridge_cmd(&self, args: &[&str]) -> Command {
        let argv = self.bridge_argv();
        let mut c = Command::new(&argv[0]);
        self.apply_env(&mut c);
        c.args(&argv[1..]).args(args);
        c
    }

    pub fn bridge(&self, args: &[&str]) -> BridgeOut {
        let o = self
            .bridge_cmd(args)
            .output()
            .expect("run the bridge with the platform venv");
        BridgeOut::from_output(&o)
    }

    pub fn start_test(&self, id: i64) -> BridgeOut {
        self.bridge(&["start-test", &id.to_string()])
    }

    pub fn maintain(&self) -> BridgeOut {
        self.bridge(&["maintain"])
    }

    /// The platform's own pending query per platform (`pending` command).
    pub fn pending(&self) -> Value {
        let o = self.bridge(&["pending"]);
        assert_eq!(o.code, 0, "pending: {:?}\n{}", o.json, o.stderr);
        o.json["platforms"].clone()
    }
}

/// Asserts the GitHub token is in neither the stderr nor the JSON of a run.
pub(super) fn no_secret(p: &RealPlatform, o: &BridgeOut) {
    assert!(
        !o.stderr.contains(&p.github_token) && !o.json.to_string().contains(&p.github_token),
        "the GitHub token leaked: {o:?}"
    );
}

/// A deferral (exit 75) for `reason`, to retry after `retry_after_s`, whose message
/// contains `message`.
pub(super) fn assert_deferred(o: &BridgeOut, reason: &str, retry_after_s: u64, message: &str) {
    assert_eq!(
        (o.code, o.result(), o.reason()),
        (75, "deferred", reason),
        "{o:?}"
    );
    assert_eq!(o.json["retry_after_s"], json!(retry_after_s));
    assert!(
        o.json["message"].as_str().unwrap().contains(message),
        "{o:?}"
    );
}

/// A bridge run in the background, killed if the test fails before it finishes.
pub(super) struct Bg(Option<std::process::Child>);

impl Drop for Bg {
    fn drop(&mut self) {
        if let Some(c) = self.0.as_mut() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

/// Starts a bridge run; its stderr goes to `stderr_file` when given (to watch it live).
pub(super) fn spawn_bridge(p: &RealPlatform, args: &[&str], stderr_file: Option<&Path>) -> Bg {
    let err = match stderr_file {
        Some(f) => Stdio::from(std::fs::File::create(f).unwrap()),
        None => Stdio::piped(),
    };
    Bg(Some(
        p.bridge_cmd(args)
            .stdout(Stdio::piped())
            .stderr(err)
            .spawn()
            .expect("spawn the bridge"),
    ))
}

pub(super) fn finish(mut bg: Bg) -> BridgeOut {
    let c = bg.0.take().unwrap();
    BridgeOut::from_output(&c.wait_with_output().unwrap())
}

/// A deferral (exit 75) because the platform lock is busy.
pub(super) fn assert_lock_busy(o: &BridgeOut) {
    assert_eq!(
        (o.code, o.result(), o.reason()),
        (75, "deferred", "lock_busy"),
        "{o:?}"
    );
}

/// A start of a new linux test in the background whose VM create the fake GCP holds
/// unverified (`verify_hold`), once the VM exists; returns (test id, VM name, the run).
pub(super) fn a_start_whose_vm_is_unverified(p: &RealPlatform) -> (i64, String, Bg) {
    let id = p.add_tests(1, "linux", "commit")[0];
    let vm = format!("linux-{id}");
    p.knob("verify_hold", json!(true));
    let start = spawn_bridge(p, &["start-test", &id.to_string()], None);
    assert!(
        crate::harness::wait_until(Duration::from_secs(90), || p.vms().contains(&vm)),
        "the start created its VM"
    );
    (id, vm, start)
}
