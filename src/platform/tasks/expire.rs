//! `check_expired_instances`: an instance older than `max_runtime` whose test is not
//! finished gets the canceled row "Could not complete test, time limit exceeded"; its
//! VM is deleted through `[platform] delete_vm` and the instance row is removed once
//! the delete succeeds (RESOURCE_NOT_FOUND counts: the VM is gone). A failed delete
//! leaves the row, so the next run finds the test (canceled with that message) and tries
//! again. Instances of tests that finished otherwise are left to the platform.

use crate::platform::errors::TIME_LIMIT_EXCEEDED;
use crate::platform::{queries, Db, Result};
use crate::runner::{self, RunOutcome, RunRequest};
use crate::worker::handler::{Outcome, TaskContext};

pub async fn run(db: &Db, ctx: &TaskContext) -> Result<Outcome> {
    let cfg = &ctx.config;
    let max = chrono::Duration::from_std(cfg.platform.max_runtime())
        .unwrap_or_else(|_| chrono::Duration::hours(2));
    let cutoff = queries::local_now() - max;
    let (mut canceled, mut deleted, mut failed) = (0u32, 0u32, 0u32);
    let mut no_runner = false;
    for (vm, test_id) in queries::older_instances(db, cutoff).await? {
        if let Some(id) = test_id {
            if !queries::is_finished(db, id).await? {
                if queries::cancel(db, id, TIME_LIMIT_EXCEEDED).await? {
                    canceled += 1;
                    tracing::warn!(test_id = id, %vm, "instance exceeded max_runtime: test canceled");
                }
            } else if !queries::canceled_with(db, id, TIME_LIMIT_EXCEEDED).await? {
                continue;
            }
        }
        let Some(spec) = cfg.platform.delete_vm.as_ref() else {
            no_runner = true;
            continue;
        };
        let mut args = serde_json::Map::new();
        args.insert("vm_name".into(), vm.clone().into());
        args.insert(
            "test_id".into(),
            test_id.map(Into::into).unwrap_or_default(),
        );
        let platform = vm.rsplit_once('-').map(|(p, _)| p).unwrap_or("");
        args.insert("platform".into(), platform.into());
        let req = RunRequest {
            task: "delete_vm",
            task_id: &ctx.envelope.id,
            attempt: ctx.envelope.attempt,
            args: &args,
            soft_deadline: ctx.soft_deadline,
            hard_deadline: ctx.hard_deadline,
        };
        let res = runner::run_detailed(spec, req).await;
        let gone = matches!(res.outcome, RunOutcome::Ok { .. })
            || res
                .cloud
                .as_ref()
                .is_some_and(|c| c.code == "RESOURCE_NOT_FOUND");
        if gone {
            queries::remove_instance(db, &vm).await?;
            deleted += 1;
            tracing::info!(%vm, "expired VM deleted");
        } else {
            failed += 1;
            tracing::warn!(%vm, outcome = ?res.outcome, "deleting the expired VM failed; the next run retries");
        }
    }
    if no_runner {
        tracing::warn!("expired instances found but no [platform] delete_vm runner is configured; their rows stay until one is");
    }
    let mut summary = format!("canceled {canceled}, VMs deleted {deleted}");
    if failed > 0 {
        summary.push_str(&format!(", deletes failed {failed} (retried next run)"));
    }
    if no_runner {
        summary.push_str(", no delete_vm runner configured");
    }
    Ok(Outcome::Done(Some(summary)))
}
