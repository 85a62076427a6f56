//! `start_test(test_id)`: guard (exists, not finished, platform not in maintenance),
//! claim, run the start runner, map the outcome.
//!
//! The claim is the `gcp_instance` row `<platform>-<id>`, inserted before the runner
//! runs: a duplicate key means another starter has the test, and this task is done
//! without running anything. A failed start releases the row. The id of the claiming
//! task is noted in Redis, so the same task resumes its own claim after a crash or an
//! immediate shutdown (and then treats RESOURCE_ALREADY_EXISTS as its own VM).

use super::{start_runner, test_id_arg};
use crate::platform::errors::{contributor_message, TASK_TIMED_OUT};
use crate::platform::queries::{self, TestRow};
use crate::platform::{Db, Result, TestId};
use crate::runner::{self, RunOutcome, RunRequest};
use crate::worker::handler::{Outcome, TaskContext};
use std::time::{Duration, Instant};

/// Time kept before the hard limit to record the outcome in the database.
const CLEANUP_MARGIN: Duration = Duration::from_secs(2);

pub async fn run(db: &Db, ctx: &TaskContext) -> Result<Outcome> {
    let env = &ctx.envelope;
    let id = match test_id_arg(&env.args) {
        Ok(id) => id,
        Err(error) => return Ok(Outcome::Fail { error }),
    };
    let Some(spec) = start_runner(&ctx.config) else {
        return Ok(Outcome::Fail {
            error: "no start runner configured: set [platform] start_vm in ciq.toml".into(),
        });
    };
    let Some(test) = queries::test(db, id).await? else {
        tracing::warn!(test_id = id, "start_test: no such test; nothing to do");
        return Ok(Outcome::Done(Some(format!("test {id} does not exist"))));
    };
    if queries::is_finished(db, id).await? {
        return Ok(Outcome::Done(Some(format!(
            "test {id} is already finished"
        ))));
    }
    if queries::in_maintenance(db, &test.platform).await? {
        // Left pending: discovery starts it once the platform is back.
        tracing::info!(test_id = id, platform = %test.platform, "platform in maintenance; test left pending");
        return Ok(Outcome::Done(Some(format!(
            "platform {} is in maintenance; test {id} left pending",
            test.platform
        ))));
    }
    let vm = format!("{}-{}", test.platform, id);
    let resumed = if queries::claim(db, &vm, id).await? {
        if let Err(e) = ctx.broker.set_start_claim(&vm, &env.id).await {
            tracing::warn!(%vm, error = %e, "cannot note the claim in Redis; a crash now could not be resumed");
        }
        false
    } else if ctx.broker.start_claim(&vm).await.ok().flatten().as_deref() == Some(&env.id) {
        tracing::info!(test_id = id, %vm, "resuming this task's own claim after an interrupted run");
        true
    } else {
        tracing::info!(test_id = id, %vm, "already started by another starter; nothing to do");
        return Ok(Outcome::Done(Some(format!(
            "test {id} was already started ({vm})"
        ))));
    };

    let args = runner_args(&test, &vm);
    let req = RunRequest {
        task: &env.task,
        task_id: &env.id,
        attempt: env.attempt,
        args: &args,
        soft_deadline: ctx.soft_deadline,
        hard_deadline: ctx.hard_deadline.map(with_margin),
    };
    let res = runner::run_detailed(spec, req).await;
    let code = res.cloud.as_ref().map(|c| c.code.clone());
    let last = env.attempt > env.max_retries;
    match res.outcome {
        RunOutcome::Ok { output } => {
            tracing::info!(test_id = id, %vm, "test started");
            Ok(Outcome::Done(Some(done_text(&vm, &output))))
        }
        RunOutcome::Permanent { error, .. }
            if resumed && code.as_deref() == Some("RESOURCE_ALREADY_EXISTS") =>
        {
            tracing::info!(test_id = id, %vm, %error, "VM exists from this task's interrupted run: started");
            Ok(Outcome::Done(Some(format!(
                "started {vm} (VM from an interrupted run)"
            ))))
        }
        RunOutcome::Retryable {
            error, retry_after, ..
        } => {
            if last {
                tracing::warn!(test_id = id, %vm, %error, "start failed; retries exhausted: canceling the test");
                fail_test(db, id, &vm, &contributor_message(code.as_deref())).await;
            } else {
                tracing::warn!(test_id = id, %vm, %error, attempt = env.attempt, "start failed; will retry");
                release(db, id, &vm).await;
            }
            Ok(Outcome::Retry {
                error,
                after: retry_after,
            })
        }
        RunOutcome::Permanent { error, .. } => {
            tracing::warn!(test_id = id, %vm, %error, "start failed permanently: canceling the test");
            fail_test(db, id, &vm, &contributor_message(code.as_deref())).await;
            Ok(Outcome::Fail { error })
        }
        RunOutcome::TimedOut { hard, .. } => {
            let error = if hard {
                "start runner killed at the hard time limit"
            } else {
                "start runner stopped at the soft time limit"
            };
            tracing::warn!(test_id = id, %vm, error, "canceling the test");
            fail_test(db, id, &vm, TASK_TIMED_OUT).await;
            Ok(Outcome::Fail {
                error: error.into(),
            })
        }
    }
}

/// What the start runner gets (stdin JSON, `CIQ_ARGS`, argv placeholders). No secrets:
/// the test's `token` is not read.
fn runner_args(t: &TestRow, vm: &str) -> serde_json::Map<String, serde_json::Value> {
    let mut m = serde_json::Map::new();
    m.insert("test_id".into(), t.id.into());
    m.insert("platform".into(), t.platform.clone().into());
    m.insert("vm_name".into(), vm.into());
    m.insert("test_type".into(), t.test_type.clone().into());
    m.insert("branch".into(), t.branch.clone().into());
    m.insert("commit".into(), t.commit.clone().into());
    m.insert("pr_nr".into(), t.pr_nr.into());
    m
}

fn done_text(vm: &str, output: &str) -> String {
    let last = output.lines().last().unwrap_or("").trim();
    if last.is_empty() {
        format!("started {vm}")
    } else {
        format!("started {vm}: {last}")
    }
}

fn with_margin(hard: Instant) -> Instant {
    let left = hard.saturating_duration_since(Instant::now());
    if left > CLEANUP_MARGIN * 2 {
        hard - CLEANUP_MARGIN
    } else {
        hard
    }
}

/// Cancel row for contributors, then the claim is released (one transaction).
async fn fail_test(db: &Db, id: TestId, vm: &str, message: &str) {
    if let Err(e) = queries::cancel_and_release(db, id, vm, message).await {
        tracing::error!(test_id = id, %vm, error = %e, "cannot record the canceled test; the expiry check will cancel it after max_runtime");
    }
}

/// Gives the test back (pending again) so a retry or the next discovery can claim it.
async fn release(db: &Db, id: TestId, vm: &str) {
    if let Err(e) = queries::remove_instance(db, vm).await {
        tracing::error!(test_id = id, %vm, error = %e, "cannot release the claim; the retry resumes it");
    }
}
