//! Runners do a task's real work outside ciq: `exec` (a process) or `http` (a POST).
//! Secrets come from the worker's environment or config, never from the task's args.

use crate::config::RunnerSpec;
use std::time::{Duration, Instant};

pub mod cloud;
mod deadline;
pub mod exec;
pub mod fence;
mod http;
mod tail;

pub use cloud::CloudError;

/// What the runner is asked to do.
pub struct RunRequest<'a> {
    pub task: &'a str,
    pub task_id: &'a str,
    pub attempt: u32,
    pub args: &'a serde_json::Map<String, serde_json::Value>,
    /// At the soft deadline an `exec` process gets SIGTERM.
    pub soft_deadline: Option<Instant>,
    /// At the hard deadline it is killed.
    pub hard_deadline: Option<Instant>,
    /// Working directory of an `exec` process (default: the worker's).
    pub cwd: Option<&'a std::path::Path>,
    /// The worker's hold on this run (None outside a worker): once it says stop, the run
    /// ends without an outcome that counts.
    pub fence: Option<fence::Fence>,
}

/// How a run ended. `output` is the tail of what the process printed (or the HTTP body).
#[derive(Debug, Clone, PartialEq)]
pub enum RunOutcome {
    Ok {
        output: String,
    },
    /// Worth retrying later (exit 75, HTTP 429/5xx, network error).
    Retryable {
        error: String,
        retry_after: Option<Duration>,
        output: String,
    },
    /// Retrying will not help (other exit codes, HTTP 4xx).
    Permanent {
        error: String,
        output: String,
    },
    /// The soft (`hard == false`) or hard time limit ended it.
    TimedOut {
        hard: bool,
        output: String,
    },
}

/// A run's outcome plus the cloud error report it printed, if any (the platform tasks
/// turn its code into a contributor message).
#[derive(Debug, Clone, PartialEq)]
pub struct RunResult {
    pub outcome: RunOutcome,
    pub cloud: Option<CloudError>,
}

impl RunResult {
    pub fn plain(outcome: RunOutcome) -> Self {
        RunResult {
            outcome,
            cloud: None,
        }
    }

    /// A run that failed: the cloud error report it printed (`cloud::find` of stdout or
    /// the response body), if any, decides retry vs permanent (else `fallback`, from the
    /// exit or HTTP status) and is added to the error text `what`.
    pub fn failed(
        what: String,
        cloud: Option<CloudError>,
        fallback: cloud::Class,
        retry_after: Option<Duration>,
        output: String,
    ) -> Self {
        let class = cloud
            .as_ref()
            .and_then(|c| cloud::classify(&c.code))
            .unwrap_or(fallback);
        let error = match &cloud {
            Some(c) => format!("{what}; cloud error {}: {}", c.code, c.message),
            None => what,
        };
        let outcome = match class {
            cloud::Class::Retryable => RunOutcome::Retryable {
                error,
                retry_after,
                output,
            },
            cloud::Class::Permanent => RunOutcome::Permanent { error, output },
        };
        RunResult { outcome, cloud }
    }

    /// A failure before anything ran (bad template, missing program, bad config).
    pub fn permanent(error: String) -> Self {
        Self::plain(RunOutcome::Permanent {
            error,
            output: String::new(),
        })
    }
}

pub async fn run(spec: &RunnerSpec, req: RunRequest<'_>) -> RunOutcome {
    run_detailed(spec, req).await.outcome
}

pub async fn run_detailed(spec: &RunnerSpec, req: RunRequest<'_>) -> RunResult {
    match spec {
        RunnerSpec::Exec {
            exec,
            env,
            env_allow,
            env_deny,
        } => {
            let inherit =
                crate::secrets::child_env(std::env::vars(), env_allow.as_deref(), env_deny);
            exec::run(exec, &inherit, env, &req).await
        }
        RunnerSpec::Http {
            http,
            timeout,
            connect_timeout,
            token_env,
        } => {
            let call = http::run(
                http,
                timeout.map(|d| d.0),
                connect_timeout.map(|d| d.0),
                token_env.as_deref(),
                &req,
            );
            match req.fence.clone() {
                // A stopped run drops its request at once.
                Some(mut f) => tokio::select! {
                    r = call => r,
                    _ = fence::stopped(&mut f) => RunResult::plain(RunOutcome::Retryable {
                        error: "stopped by its worker (lease not renewed in time)".into(),
                        retry_after: None,
                        output: String::new(),
                    }),
                },
                None => call.await,
            }
        }
    }
}
