//! Runs the platform bridge (`contrib/sample-platform/ciq_bridge.py`, or the stand-in of
//! `ciq up`) through the `exec` runner, in the platform's folder, and reads its reply.
//!
//! The bridge calls the platform's own functions; its last stdout line is one JSON
//! object: `{"result": …, "reason": …, "retry_after_s": …}` (the contract is documented
//! in contrib/sample-platform/README.md). Exit 0 = settled, 75 = deferred, 1 = error.

use crate::config::{Config, RunnerSpec};
use crate::runner::{self, RunOutcome};
use crate::worker::handler::{Outcome, TaskContext};
use serde::Deserialize;
use std::time::Duration;

/// The bridge's reply (its last stdout line).
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
pub struct Reply {
    pub result: String,
    #[serde(default)]
    pub reason: Option<String>,
    #[serde(default)]
    pub detail: Option<String>,
    #[serde(default)]
    pub retry_after_s: Option<u64>,
}

/// A deferral waits at least this long (or `defer_max` when that is shorter).
const MIN_DEFER: Duration = Duration::from_secs(5);
/// The first deferral's wait; each further one doubles it.
const FIRST_DEFER: Duration = Duration::from_secs(10);

/// The last line of the bridge's stdout that is a JSON reply (stderr follows a marker
/// line in the runner's output tail).
pub fn reply_of(output: &str) -> Option<Reply> {
    let stdout = match output.find("[stderr]\n") {
        Some(0) => "",
        Some(i) => &output[..i],
        None => output,
    };
    stdout
        .lines()
        .rev()
        .map(str::trim)
        .filter(|l| l.starts_with('{'))
        .find_map(|l| serde_json::from_str::<Reply>(l).ok())
}

/// Runs `bridge <command...>` for a task and maps the reply onto the worker's outcome:
/// settled results are done, `deferred` is a deferral (no attempt used), anything else
/// (an exception in the platform's code, no reply) is a failed attempt.
pub async fn run(ctx: &TaskContext, command: &[String]) -> Outcome {
    let cfg: &Config = &ctx.config;
    let Some(mut argv) = cfg.platform.bridge_argv() else {
        return Outcome::Fail {
            error: "no platform configured: set [platform] config_py (or bridge) in ciq.toml"
                .into(),
        };
    };
    argv.extend(command.iter().cloned());
    let spec = RunnerSpec::Exec {
        exec: argv,
        env: cfg.platform.env.clone(),
        env_allow: None,
        env_deny: vec![],
    };
    let folder = cfg.platform.folder();
    let res = runner::run_detailed(&spec, ctx.run_request(folder.as_deref())).await;
    let output = match &res.outcome {
        RunOutcome::Ok { output }
        | RunOutcome::Retryable { output, .. }
        | RunOutcome::Permanent { output, .. }
        | RunOutcome::TimedOut { output, .. } => output.clone(),
    };
    match (reply_of(&output), res.outcome) {
        (_, RunOutcome::TimedOut { hard, .. }) => Outcome::Retry {
            error: format!(
                "bridge {} at the {} time limit",
                command.join(" "),
                if hard { "hard" } else { "soft" }
            ),
            after: None,
        },
        (Some(r), _) if r.result == "deferred" => {
            let max = cfg.platform.defer_max();
            // Short at first and growing (10 s, 20 s, 40 s, …), never past what the
            // platform suggests or defer_max; a duplicate enqueue (discovery, the webhook)
            // brings a deferred start forward anyway.
            let suggested = Duration::from_secs(r.retry_after_s.unwrap_or(120));
            let growing = FIRST_DEFER.saturating_mul(1 << ctx.envelope.deferrals.min(16));
            let after = growing.min(suggested).clamp(MIN_DEFER.min(max), max);
            Outcome::Defer {
                reason: describe(&r),
                after,
            }
        }
        (Some(r), RunOutcome::Ok { .. }) => Outcome::Done(Some(describe(&r))),
        (reply, outcome) => {
            let why = match outcome {
                RunOutcome::Retryable { error, .. } | RunOutcome::Permanent { error, .. } => error,
                _ => "no reply".into(),
            };
            let said = reply
                .map(|r| format!(": {}", describe(&r)))
                .unwrap_or_default();
            Outcome::Retry {
                error: format!(
                    "bridge {} failed ({why}){said}; output: {}",
                    command.join(" "),
                    output.trim()
                ),
                after: None,
            }
        }
    }
}

/// `started`, `deferred: artifact_not_ready (build still running)`, …
pub fn describe(r: &Reply) -> String {
    let mut s = r.result.clone();
    if let Some(reason) = &r.reason {
        s.push_str(": ");
        s.push_str(reason);
    }
    if let Some(d) = r.detail.as_deref().filter(|d| !d.is_empty()) {
        s.push_str(&format!(" ({d})"));
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_last_json_line_of_stdout_is_the_reply() {
        let out = "log line\n{\"result\":\"x\"}\n{\"result\":\"deferred\",\"reason\":\"gcp_retryable\",\"retry_after_s\":60}\n[stderr]\n{\"result\":\"started\"}";
        let r = reply_of(out).unwrap();
        assert_eq!(r.result, "deferred");
        assert_eq!(r.retry_after_s, Some(60));
        assert_eq!(reply_of("[stderr]\n{\"result\":\"started\"}"), None);
        assert_eq!(reply_of("no json"), None);
        assert_eq!(
            describe(&Reply {
                result: "finished".into(),
                reason: Some("PR is closed".into()),
                ..Default::default()
            }),
            "finished: PR is closed"
        );
    }
}
