//! `process_pending_tests`: ciq's discovery — the tests the platform's `gcp_instance`
//! would start (maintenance by the platform's first row, NOT EXISTS instead of the
//! platform's NULL-sensitive NOT IN).
//!
//! Active: enqueue `start_test` for every pending test, oldest first; the unique key
//! `start_test:<id>` makes a test already queued, deferred or running a duplicate, so
//! ticks, webhooks and workers overlap freely. Tests with non-final progress rows are
//! not queued (the platform's `start_test` skips them).
//! Shadow: enqueue nothing; record what ciq saw and when, and the starts the platform
//! recorded, as the evidence the stage-2 gate asks for.

use crate::broker::enqueue::Enqueued;
use crate::broker::now_ms;
use crate::platform::mode::{self, Effective};
use crate::platform::{queries, Db, Result};
use crate::worker::handler::{Outcome, TaskContext};
use std::collections::BTreeMap;

pub async fn run(db: &Db, ctx: &TaskContext) -> Result<Outcome> {
    let cfg = &ctx.config;
    let mode = match mode::effective(cfg) {
        Ok(m) => m,
        Err(error) => return Ok(Outcome::Retry { error, after: None }),
    };
    let (mut new, mut dup, mut skipped) = (0u32, 0u32, 0u32);
    let mut maintenance = vec![];
    let mut seen = vec![];
    for platform in cfg.platform.platforms() {
        if queries::in_maintenance(db, &platform).await? {
            maintenance.push(platform);
            continue;
        }
        for t in queries::pending(db, &platform, cfg.platform.discover_limit()).await? {
            let id = t.id;
            seen.push(i64::from(id));
            if mode == Effective::Shadow {
                continue;
            }
            if t.has_progress {
                skipped += 1;
                tracing::debug!(
                    test_id = id,
                    "pending test has progress rows; the platform's start_test would skip it"
                );
                continue;
            }
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
    let now = now_ms();
    if let Err(e) = ctx.broker.note_pending(&seen, now).await {
        tracing::warn!(error = %e, "cannot record when pending tests were first seen");
    }
    let mut summary = match mode {
        Effective::Active => {
            let mut s = format!("pending {}: queued {new}, already queued {dup}", seen.len());
            if skipped > 0 {
                s.push_str(&format!(", not queued (have progress rows) {skipped}"));
            }
            s
        }
        Effective::Shadow => {
            let started: BTreeMap<i64, u64> = queries::instances(db)
                .await?
                .into_iter()
                .map(|(id, at)| (i64::from(id), queries::local_ms(at)))
                .collect();
            ctx.broker
                .note_shadow(&seen, &started, now)
                .await
                .map_err(|e| crate::platform::Error::Query(e.to_string()))?;
            format!("shadow: pending {} (the cron starts them)", seen.len())
        }
    };
    if !maintenance.is_empty() {
        summary.push_str(&format!("; in maintenance: {}", maintenance.join(", ")));
    }
    Ok(Outcome::Done(Some(summary)))
}
