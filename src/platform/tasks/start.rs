//! `start_test(test_id)`: the platform's own per-test start (maintenance check, PR checks,
//! `start_test`) through the bridge. The platform decides and writes everything (the
//! `gcp_instance` row, a canceled row and the GitHub status on failure); ciq only runs it
//! once per test at a time (the unique key `start_test:<id>`, plus the bridge's per-test
//! lock) and defers it while the platform says "not yet" — ciq never cancels a test.
//!
//! A start that finds its VM name still taken (`vm_name_busy`: a VM GCP is still deleting,
//! or one a cut start left without a row, or a deletion not yet verified) brings `maintain`
//! forward: the platform's orphan scan and `verify_pending_deletions` free the name, so
//! the start does not wait for the next scheduled run.

use crate::broker::enqueue::Enqueued;
use crate::platform::bridge;
use crate::platform::mode::{self, Effective};
use crate::submit::test_id_arg;
use crate::worker::handler::{Outcome, TaskContext};

pub async fn run(ctx: &TaskContext) -> Outcome {
    let id = match test_id_arg(&ctx.envelope.args) {
        Ok(id) => id,
        Err(error) => return Outcome::Fail { error },
    };
    match mode::effective(&ctx.config) {
        Ok(Effective::Active) => {}
        Ok(Effective::Shadow) => {
            tracing::info!(
                test_id = id,
                "shadow mode: not starting the test (the cron starts tests while the flag is off)"
            );
            return Outcome::Done(Some(format!("shadow mode: test {id} not started by ciq")));
        }
        Err(error) => return Outcome::Retry { error, after: None },
    }
    let outcome = bridge::run(ctx, &["start-test".into(), id.to_string()]).await;
    match &outcome {
        Outcome::Done(r) => tracing::info!(
            test_id = id,
            result = r.as_deref().unwrap_or(""),
            "start_test settled"
        ),
        Outcome::Defer { reason, after } => {
            tracing::info!(test_id = id, %reason, retry_in = %humantime::format_duration(*after), "start_test deferred by the platform");
            if reason.starts_with(VM_NAME_BUSY) {
                bring_maintain_forward(ctx, id).await;
            }
        }
        Outcome::Retry { error, .. } | Outcome::Fail { error } => {
            tracing::warn!(test_id = id, %error, "start_test failed")
        }
    }
    outcome
}

/// The bridge's deferral when the VM name a start would insert is still taken.
const VM_NAME_BUSY: &str = "deferred: vm_name_busy";

/// Enqueues `maintain` now (its unique key makes this a no-op while one is queued or
/// running); a failure only means the scheduled run frees the name instead.
async fn bring_maintain_forward(ctx: &TaskContext, id: i32) {
    let env = match crate::submit::build_envelope(
        &ctx.config,
        "maintain",
        serde_json::Map::new(),
        None,
        None,
    ) {
        Ok(e) => e,
        Err(error) => {
            tracing::warn!(test_id = id, %error, "cannot bring maintain forward");
            return;
        }
    };
    match ctx.broker.enqueue(&env, None).await {
        Ok(Enqueued::New(task)) => {
            tracing::info!(test_id = id, %task, "maintain brought forward to free the VM name")
        }
        Ok(Enqueued::Duplicate(_)) => {}
        Err(e) => tracing::warn!(test_id = id, error = %e, "cannot bring maintain forward"),
    }
}
