//! `maintain`: the platform's own housekeeping, in the cron's order —
//! `verify_pending_deletions`, `scan_for_orphaned_vms`, `delete_expired_instances` —
//! through the bridge. The bridge holds the platform lock exclusively, so no start is
//! between creating its VM and writing its row while the orphan scan runs.

use crate::platform::bridge;
use crate::platform::mode::{self, Effective};
use crate::worker::handler::{Outcome, TaskContext};

pub async fn run(ctx: &TaskContext) -> Outcome {
    match mode::effective(&ctx.config) {
        Ok(Effective::Active) => bridge::run(ctx, &["maintain".into()]).await,
        Ok(Effective::Shadow) => {
            Outcome::Done(Some("shadow mode: the cron maintains the platform".into()))
        }
        Err(error) => Outcome::Retry { error, after: None },
    }
}
