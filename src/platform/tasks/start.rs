//! `start_test(test_id)`: the platform's own per-test start (maintenance check, PR checks,
//! `start_test`) through the bridge. The platform decides and writes everything (the
//! `gcp_instance` row, a canceled row and the GitHub status on failure); ciq only runs it
//! once per test at a time (the unique key `start_test:<id>`, plus the bridge's per-test
//! lock) and defers it while the platform says "not yet" — ciq never cancels a test.

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
            tracing::info!(test_id = id, %reason, retry_in = %humantime::format_duration(*after), "start_test deferred by the platform")
        }
        Outcome::Retry { error, .. } | Outcome::Fail { error } => {
            tracing::warn!(test_id = id, %error, "start_test failed")
        }
    }
    outcome
}
