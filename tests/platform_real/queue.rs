//! The queue side of the ciq-against-the-platform tests: a Redis and a ciq configured for
//! the test's platform, its workers, the cron guard, and the platform's USE_CELERY_TASKS flag.

use super::*;
use crate::harness::{keys, sigkill, sigterm, wait_until, Ciq, Proc, Redis};
use std::time::{Duration, Instant};

/// A Redis and a ciq whose config points at the platform (config.py is the source of the
/// database; the bridge runs with the platform venv, the fakes on its PYTHONPATH).
pub(super) struct Queue {
    pub(super) redis: Redis,
    pub(super) ciq: Ciq,
    pub(super) workers: Vec<Proc>,
}

impl Drop for Queue {
    fn drop(&mut self) {
        for w in &mut self.workers {
            sigkill(w);
        }
    }
}

pub(super) fn queue(p: &RealPlatform, extra: &str) -> Queue {
    let redis = Redis::start();
    let ciq = Ciq::new(&redis);
    let pycache = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("platform-pycache");
    ciq.config(&format!(
        "[platform]\nconfig_py = \"{}\"\npython = \"{}\"\nbridge = \"{}\"\nlock_dir = \"{}\"\n\
         lock_wait = \"2s\"\ndefer_max = \"1s\"\n\
         env = {{ PYTHONPATH = \"{}\", CIQ_FAKE_STATE = \"{}\", LANG = \"C.UTF-8\", PYTHONPYCACHEPREFIX = \"{}\" }}\n\
         [tasks.start_test]\nbackoff = \"200ms\"\nbackoff_max = \"1s\"\n{extra}",
        p.config_py().display(),
        platform_python().display(),
        bridge_script().display(),
        p.lock_dir.display(),
        RealPlatform::python_path().display(),
        p.state.display(),
        pycache.display(),
    ));
    Queue {
        redis,
        ciq,
        workers: vec![],
    }
}

impl Queue {
    pub(super) fn worker(&mut self, name: &str, extra: &[&str]) {
        let w = self.ciq.spawn_worker(name, extra);
        self.workers.push(w);
    }

    /// `ciq cron-guard … -- <platform python> mod_ci/cron.py` in the platform's environment.
    pub(super) fn guard_cmd(&self, p: &RealPlatform, guard_args: &[&str]) -> Command {
        let mut c = Command::new(crate::harness::ciq_bin());
        p.apply_env(&mut c);
        c.env("CIQ_BROKER", self.redis.url())
            .arg("--config")
            .arg(self.ciq.dir().join("ciq.toml"))
            .arg("cron-guard")
            .arg("--log")
            .arg(self.ciq.dir().join("guard.log"))
            .args(guard_args)
            .arg("--")
            .arg(platform_python())
            .arg(p.dir.join("mod_ci/cron.py"));
        c
    }

    /// One discovery pass, waited for; returns its result line.
    pub(super) fn discover(&self) -> String {
        let o = self.ciq.run(&[
            "enqueue",
            "process_pending_tests",
            "--wait",
            "--timeout",
            "60s",
        ]);
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        String::from_utf8_lossy(&o.stderr).to_string()
    }

    pub(super) fn guard_log(&self) -> String {
        std::fs::read_to_string(self.ciq.dir().join("guard.log")).unwrap_or_default()
    }

    /// One field of the test_execution queue's stats hash.
    pub(super) fn stats(&self, field: &str) -> i64 {
        self.redis
            .int(&["HGET", &keys::q("test_execution").stats, field])
    }

    pub(super) fn logs(&self) -> String {
        (1..=3).map(|i| self.ciq.log(&format!("w{i}"))).collect()
    }
}

pub(super) fn set_flag(p: &RealPlatform, on: bool) {
    let path = p.config_py();
    let text = std::fs::read_to_string(&path).unwrap();
    let text: String = text
        .lines()
        .filter(|l| !l.starts_with("USE_CELERY_TASKS"))
        .map(|l| format!("{l}\n"))
        .collect();
    let flag = if on { "True" } else { "False" };
    std::fs::write(&path, format!("{text}USE_CELERY_TASKS = {flag}\n")).unwrap();
}

/// A start whose VM create the fake GCP holds, and a worker told to stop (SIGTERM, as
/// the rollback does) while it runs: returns once the worker says it waits for the start.
pub(super) fn stop_during_a_held_start(p: &RealPlatform) -> (Queue, Proc, i64, String) {
    let id = p.add_tests(1, "linux", "commit")[0];
    let vm = format!("linux-{id}");
    set_flag(p, true);
    p.knob("verify_hold", json!(true));
    let q = queue(p, "");
    let w = q.ciq.spawn_worker("w1", &["--shutdown-timeout", "1s"]);
    q.ciq
        .ok(&["enqueue", "start_test", "--arg", &format!("test_id={id}")]);
    assert!(
        wait_until(Duration::from_secs(90), || p.vms().contains(&vm)),
        "the start created its VM; {}",
        q.ciq.log("w1")
    );
    sigterm(&w);
    assert!(
        wait_until(Duration::from_secs(15), || q
            .ciq
            .log("w1")
            .contains("waiting for 1 platform start(s) to finish")),
        "the stop says what it waits for; {}",
        q.ciq.log("w1")
    );
    (q, w, id, vm)
}

/// A start_test queued (one worker running) for a test whose artifact is still being built.
pub(super) struct DeferredStart {
    pub(super) q: Queue,
    pub(super) id: i64,
    pub(super) commit: String,
    /// The task id `ciq enqueue` printed.
    pub(super) task: String,
    /// Just before the enqueue.
    pub(super) enqueued_at: Instant,
}

/// Queues a start whose artifact is "in_progress" on the fake GitHub, with the flag on.
pub(super) fn queue_a_start_of_a_building_artifact(p: &RealPlatform) -> DeferredStart {
    let id = p.add_tests(1, "linux", "commit")[0];
    let commit = p.commit_of(id);
    p.artifact(&commit, "in_progress");
    set_flag(p, true);
    let mut q = queue(p, "");
    q.worker("w1", &[]);
    let enqueued_at = Instant::now();
    let task = q
        .ciq
        .ok(&["enqueue", "start_test", "--arg", &format!("test_id={id}")])
        .trim()
        .to_string();
    DeferredStart {
        q,
        id,
        commit,
        task,
        enqueued_at,
    }
}
