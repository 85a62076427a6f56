//! `process_pending_tests`: for each platform not in maintenance, enqueue `start_test`
//! for every pending test, oldest first. The unique key `start_test:<id>` makes a test
//! that is already queued, retrying or running a duplicate, so ticks, webhooks and
//! workers can overlap freely. Also records when each pending test was first seen.

use crate::broker::now_ms;
use crate::broker::ops::Enqueued;
use crate::platform::{queries, Db, Result};
use crate::worker::handler::{Outcome, TaskContext};

pub async fn run(db: &Db, ctx: &TaskContext) -> Result<Outcome> {
    let cfg = &ctx.config;
    if super::start_runner(cfg).is_none() {
        // Queuing starts that can only fail would fill the dead list every tick.
        return Ok(Outcome::Fail {
            error: "no start runner configured ([platform] start_vm); nothing queued".into(),
        });
    }
    let (mut new, mut dup) = (0u32, 0u32);
    let mut maintenance = vec![];
    let mut seen = vec![];
    for platform in cfg.platform.platforms() {
        if queries::in_maintenance(db, &platform).await? {
            maintenance.push(platform);
            continue;
        }
        for id in queries::pending(db, &platform, cfg.platform.discover_limit()).await? {
            seen.push(i64::from(id));
            let mut args = serde_json::Map::new();
            args.insert("test_id".into(), id.into());
            let env = match crate::submit::build_envelope(cfg, "start_test", args, None, None) {
                Ok(e) => e,
                Err(error) => return Ok(Outcome::Fail { error }),
            };
            match ctx.broker.enqueue(&env, None).await {
                Ok(Enqueued::New(task)) => {
                    new += 1;
                    tracing::info!(test_id = id, %platform, %task, "pending test queued");
                }
                Ok(Enqueued::Duplicate(_)) => dup += 1,
                Err(e) => {
                    return Ok(Outcome::Retry {
                        error: format!("cannot enqueue start_test for test {id}: {e}"),
                        after: None,
                    })
                }
            }
        }
    }
    if let Err(e) = ctx.broker.note_pending(&seen, now_ms()).await {
        tracing::warn!(error = %e, "cannot record when pending tests were first seen");
    }
    let mut summary = format!("pending {}: queued {new}, already queued {dup}", seen.len());
    if !maintenance.is_empty() {
        summary.push_str(&format!("; in maintenance: {}", maintenance.join(", ")));
    }
    Ok(Outcome::Done(Some(summary)))
}
