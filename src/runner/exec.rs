//! `exec` runner: one process per run.
//!
//! argv is a template (`{name}` filled from the task's args); the args go as one JSON
//! object on stdin and in `CIQ_ARGS`, with `CIQ_TASK`, `CIQ_TASK_ID` and `CIQ_ATTEMPT`.
//! The process gets the part of the worker's environment `secrets::child_env` lets
//! through (never ciq's own `CIQ_*` settings such as the broker URL and password; the
//! runner's `env_allow`/`env_deny` narrow it further) plus the runner's `env` table: that
//! is where secrets come from, never from the task message. Exit 0 = done, 75 (EX_TEMPFAIL)
//! = retry, anything else = permanent; a cloud error report on stdout (see `cloud`)
//! overrides that class when its code is known. The process runs in its own process
//! group: the soft deadline sends SIGTERM to the group, the hard deadline (or 10 s
//! after SIGTERM when there is none) SIGKILL, and dropping the run (an immediate worker
//! shutdown) kills the group too.

use super::cloud::{self, Class};
use super::deadline::{wait, Ended, Group};
use super::tail::{combine, Tail};
use super::{RunOutcome, RunRequest, RunResult};
use std::collections::BTreeMap;
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWriteExt};
use tokio::process::Command;

/// Exit status that asks for a retry (sysexits.h EX_TEMPFAIL).
pub const EXIT_RETRY: i32 = 75;
/// How long stragglers that inherited stdout/stderr may keep them open after the exit.
const DRAIN_GRACE: Duration = Duration::from_millis(200);

/// Runs `argv` with exactly `inherit` (already filtered) plus `env` as its environment.
pub async fn run(
    argv: &[String],
    inherit: &[(String, String)],
    env: &BTreeMap<String, String>,
    req: &RunRequest<'_>,
) -> RunResult {
    let argv = match render_argv(argv, req.args) {
        Ok(a) => a,
        Err(e) => return RunResult::permanent(e),
    };
    let args_json = serde_json::Value::Object(req.args.clone()).to_string();
    // Under a worker, the run goes through the fencing supervisor (see `fence`), which
    // writes the args to the program's stdin itself; its own stdin carries the deadlines.
    let supervisor = req.fence.as_ref().and(super::fence::supervisor());
    let mut cmd = match (supervisor, &req.fence) {
        (Some(sup), Some(fence)) => {
            let mut c = Command::new(sup);
            c.args(super::fence::args(&fence.borrow())).args(&argv);
            c
        }
        _ => {
            let mut c = Command::new(&argv[0]);
            c.args(&argv[1..]);
            c
        }
    };
    cmd.env_clear()
        .envs(inherit.iter().map(|(k, v)| (k, v)))
        .envs(env)
        .env("CIQ_TASK", req.task)
        .env("CIQ_TASK_ID", req.task_id)
        .env("CIQ_ATTEMPT", req.attempt.to_string())
        .env("CIQ_ARGS", &args_json)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .process_group(0);
    if let Some(dir) = req.cwd {
        cmd.current_dir(dir);
    }
    let mut child = match cmd.spawn() {
        Ok(c) => c,
        Err(e) => return RunResult::permanent(format!("cannot start {:?}: {e}", argv[0])),
    };
    let mut group = Group::of(&child);
    // Held until the run ends: the supervisor reads a closed pipe as "the worker is gone".
    let mut _deadlines = None;
    if let Some(mut stdin) = child.stdin.take() {
        match (supervisor, req.fence.clone()) {
            (Some(_), Some(fence)) => {
                _deadlines = Some(tokio::spawn(feed_deadlines(stdin, fence)));
            }
            _ => {
                // A process that never reads stdin must not block the run.
                tokio::spawn(async move {
                    let _ = stdin.write_all(args_json.as_bytes()).await;
                });
            }
        }
    }
    let out = Arc::new(Mutex::new(Tail::default()));
    let err = Arc::new(Mutex::new(Tail::default()));
    let readers = [
        child.stdout.take().map(|s| spawn_reader(s, out.clone())),
        child.stderr.take().map(|s| spawn_reader(s, err.clone())),
    ];
    let ended = wait(
        &mut child,
        &group,
        req.soft_deadline,
        req.hard_deadline,
        req.fence.clone(),
    )
    .await;
    if let Some(h) = _deadlines.take() {
        h.abort();
    }
    let drained = tokio::time::timeout(DRAIN_GRACE, async {
        for r in readers.into_iter().flatten() {
            let _ = r.await;
        }
    })
    .await;
    if drained.is_err() {
        group.signal(libc::SIGKILL);
    }
    group.disarm();
    let stdout = lock_text(&out);
    let stderr = lock_text(&err);
    if supervisor.is_some() {
        if let Ended::Exited(st) = &ended {
            if st.code() == Some(super::fence::EXIT_CANNOT_START) {
                if let Some(why) = stderr
                    .lines()
                    .find_map(|l| l.strip_prefix(super::fence::CANNOT_START))
                {
                    return RunResult::permanent(format!("cannot start {why}"));
                }
            }
        }
    }
    let output = combine(&stdout, &stderr);
    classify(ended, &stdout, output, &argv[0])
}

/// Sends the supervisor the run's deadlines, now and whenever the worker moves them.
async fn feed_deadlines(mut pipe: tokio::process::ChildStdin, mut fence: super::fence::Fence) {
    loop {
        let l = super::fence::line(&fence.borrow_and_update());
        if pipe.write_all(l.as_bytes()).await.is_err() || pipe.flush().await.is_err() {
            return;
        }
        if fence.changed().await.is_err() {
            // The worker let go of the run without stopping it: keep the pipe open (the
            // supervisor keeps the last deadlines) until the run ends and drops this task.
            std::future::pending::<()>().await;
        }
    }
}

fn lock_text(t: &Mutex<Tail>) -> String {
    t.lock().map(|t| t.text()).unwrap_or_default()
}

fn render_argv(
    tpl: &[String],
    args: &serde_json::Map<String, serde_json::Value>,
) -> Result<Vec<String>, String> {
    if tpl.is_empty() {
        return Err("exec runner has an empty argv".into());
    }
    tpl.iter()
        .map(|p| crate::template::render(p, args))
        .collect()
}

fn spawn_reader(
    mut s: impl AsyncRead + Unpin + Send + 'static,
    into: Arc<Mutex<Tail>>,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut buf = [0u8; 8192];
        while let Ok(n) = s.read(&mut buf).await {
            if n == 0 {
                break;
            }
            if let Ok(mut t) = into.lock() {
                t.push(&buf[..n]);
            }
        }
    })
}

fn classify(ended: Ended, stdout: &str, output: String, prog: &str) -> RunResult {
    let status = match ended {
        Ended::Exited(s) => s,
        Ended::Terminated => {
            return RunResult::plain(RunOutcome::TimedOut {
                hard: false,
                output,
            })
        }
        Ended::Killed => return RunResult::plain(RunOutcome::TimedOut { hard: true, output }),
        Ended::WaitFailed(e) => {
            return RunResult::plain(RunOutcome::Retryable {
                error: format!("{prog}: cannot wait for the process: {e}"),
                retry_after: None,
                output,
            })
        }
    };
    if status.success() {
        return RunResult::plain(RunOutcome::Ok { output });
    }
    let by_exit = if status.code() == Some(EXIT_RETRY) {
        Class::Retryable
    } else {
        Class::Permanent
    };
    let how = match status.code() {
        Some(c) => format!("exit status {c}"),
        None => {
            use std::os::unix::process::ExitStatusExt;
            format!("killed by signal {}", status.signal().unwrap_or(0))
        }
    };
    let report = cloud::find(stdout);
    RunResult::failed(format!("{prog}: {how}"), report, by_exit, None, output)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;
    use std::time::Instant;

    fn req<'a>(args: &'a serde_json::Map<String, serde_json::Value>) -> RunRequest<'a> {
        RunRequest {
            task: "start_test",
            task_id: "01TASK",
            attempt: 2,
            args,
            soft_deadline: None,
            hard_deadline: None,
            cwd: None,
            fence: None,
        }
    }

    /// What a child inherits from this test process (ciq's own variables filtered out).
    fn inherit() -> Vec<(String, String)> {
        crate::secrets::child_env(std::env::vars(), None, &[])
    }

    fn sh(script: &str) -> Vec<String> {
        vec!["sh".into(), "-c".into(), script.into(), "runner".into()]
    }

    fn args() -> serde_json::Map<String, serde_json::Value> {
        json!({"test_id": 42, "platform": "linux"})
            .as_object()
            .cloned()
            .unwrap_or_default()
    }

    #[tokio::test]
    async fn passes_argv_stdin_and_env() {
        let a = args();
        let mut env = BTreeMap::new();
        env.insert("EXTRA".to_string(), "from-config".to_string());
        let argv = sh(r#"read -r line; echo "arg=$1 stdin=$line id=$CIQ_TASK_ID attempt=$CIQ_ATTEMPT extra=$EXTRA""#)
            .into_iter()
            .chain(["{platform}-{test_id}".to_string()])
            .collect::<Vec<_>>();
        let r = run(&argv, &inherit(), &env, &req(&a)).await;
        let RunOutcome::Ok { output } = r.outcome else {
            panic!("expected ok: {:?}", r.outcome)
        };
        assert_eq!(
            output,
            r#"arg=linux-42 stdin={"platform":"linux","test_id":42} id=01TASK attempt=2 extra=from-config"#
        );
    }

    #[tokio::test]
    async fn exit_codes_map_to_outcomes() {
        let a = args();
        let env = BTreeMap::new();
        let r = run(&sh("echo busy >&2; exit 75"), &inherit(), &env, &req(&a)).await;
        assert!(
            matches!(&r.outcome, RunOutcome::Retryable { output, .. } if output == "[stderr]\nbusy"),
            "{:?}",
            r.outcome
        );
        let r = run(&sh("exit 3"), &inherit(), &env, &req(&a)).await;
        assert!(
            matches!(&r.outcome, RunOutcome::Permanent { error, .. } if error.contains("exit status 3")),
            "{:?}",
            r.outcome
        );
        let r = run(
            &["/nonexistent/ciq-runner".to_string()],
            &inherit(),
            &env,
            &req(&a),
        )
        .await;
        assert!(matches!(r.outcome, RunOutcome::Permanent { .. }));
        let r = run(&sh("echo {missing}"), &inherit(), &env, &req(&a)).await;
        assert!(matches!(r.outcome, RunOutcome::Permanent { .. }));
    }

    /// Prints `$REPORT` (a cloud error report: `{` in argv would be a placeholder).
    async fn report_and_exit(report: &str, code: i32) -> RunResult {
        let a = args();
        let mut env = BTreeMap::new();
        env.insert("REPORT".to_string(), report.to_string());
        run(
            &sh(&format!("echo \"$REPORT\"; exit {code}")),
            &inherit(),
            &env,
            &req(&a),
        )
        .await
    }

    #[tokio::test]
    async fn cloud_codes_override_the_exit_class() {
        let r = report_and_exit(
            r#"{"error": {"code": "ZONE_RESOURCE_POOL_EXHAUSTED", "message": "zone z1"}}"#,
            1,
        )
        .await;
        assert!(
            matches!(r.outcome, RunOutcome::Retryable { .. }),
            "{:?}",
            r.outcome
        );
        assert_eq!(
            r.cloud.map(|c| c.code).as_deref(),
            Some("ZONE_RESOURCE_POOL_EXHAUSTED")
        );
        let r = report_and_exit(
            r#"{"error": {"code": "RESOURCE_NOT_FOUND", "message": "m"}}"#,
            75,
        )
        .await;
        assert!(
            matches!(r.outcome, RunOutcome::Permanent { .. }),
            "{:?}",
            r.outcome
        );
        let r = report_and_exit(r#"{"error": {"code": "WEIRD", "message": "m"}}"#, 75).await;
        assert!(
            matches!(r.outcome, RunOutcome::Retryable { .. }),
            "{:?}",
            r.outcome
        );
        assert_eq!(r.cloud.map(|c| c.code).as_deref(), Some("WEIRD"));
    }

    #[tokio::test]
    async fn soft_deadline_terminates_the_group_and_hard_kills() {
        let a = args();
        let env = BTreeMap::new();
        let mut r = req(&a);
        r.soft_deadline = Some(Instant::now() + Duration::from_millis(200));
        r.hard_deadline = Some(Instant::now() + Duration::from_secs(5));
        let t = Instant::now();
        // A child of the shell gets the SIGTERM too: the group is signalled.
        let out = run(
            &sh("trap 'echo got-term; exit 1' TERM; sleep 30 & wait"),
            &inherit(),
            &env,
            &r,
        )
        .await;
        assert!(t.elapsed() < Duration::from_secs(3));
        assert_eq!(
            out.outcome,
            RunOutcome::TimedOut {
                hard: false,
                output: "got-term".into()
            }
        );

        let mut r = req(&a);
        r.soft_deadline = Some(Instant::now() + Duration::from_millis(100));
        r.hard_deadline = Some(Instant::now() + Duration::from_millis(400));
        let t = Instant::now();
        let out = run(&sh("trap '' TERM; sleep 30"), &inherit(), &env, &r).await;
        assert!(t.elapsed() < Duration::from_secs(3));
        assert!(
            matches!(out.outcome, RunOutcome::TimedOut { hard: true, .. }),
            "{:?}",
            out.outcome
        );
    }

    #[tokio::test]
    async fn long_output_keeps_its_tail() {
        let a = args();
        let env = BTreeMap::new();
        let r = run(
            &sh("i=0; while [ $i -lt 2000 ]; do echo line$i; i=$((i+1)); done"),
            &inherit(),
            &env,
            &req(&a),
        )
        .await;
        let RunOutcome::Ok { output } = r.outcome else {
            panic!("expected ok")
        };
        assert!(
            output.ends_with("line1999") && output.len() < 4200,
            "{}",
            output.len()
        );
    }
}
