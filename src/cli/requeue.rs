//! `ciq requeue`: give dead tasks another go.

use super::{CliError, CliResult, Ctx};
use crate::broker::tasks::State;
use crate::output;
use std::process::ExitCode;

/// Move dead tasks back to pending as fresh attempts (by id, or all dead of a queue).
#[derive(Debug, clap::Args)]
pub struct RequeueArgs {
    /// Task ids to requeue.
    #[arg(required_unless_present = "dead")]
    pub ids: Vec<String>,
    /// Requeue dead tasks in bulk (needs --all).
    #[arg(long, requires = "all", conflicts_with = "ids")]
    pub dead: bool,
    /// With --dead: every dead task (of --queue, or of every queue).
    #[arg(long, requires = "dead")]
    pub all: bool,
    /// The queue the tasks are in (default: look in every known queue).
    #[arg(long)]
    pub queue: Option<String>,
}

pub async fn run(a: RequeueArgs, ctx: &Ctx) -> CliResult<ExitCode> {
    let broker = ctx.broker().await?;
    let queues = match &a.queue {
        Some(q) => {
            super::known_queue::require_known(&broker, ctx, std::slice::from_ref(q)).await?;
            vec![q.clone()]
        }
        None => broker.known_queues(&ctx.config.queue_names()).await?,
    };
    let (mut requeued, mut held, mut refused) = (0u64, 0u64, 0u64);
    let mut missing: Vec<String> = a.ids.clone();
    for q in &queues {
        let ids: Vec<String> = if a.dead {
            broker
                .stored(q, State::Dead, isize::MAX)
                .await?
                .into_iter()
                .map(|t| t.id)
                .collect()
        } else {
            missing.clone()
        };
        if ids.is_empty() {
            continue;
        }
        let ids = refuse_secrets(&broker, q, ids, &mut missing, &mut refused).await?;
        let pb = output::progress(ids.len() as u64, &format!("requeueing {q}"));
        for chunk in ids.chunks(500) {
            let res = broker.requeue_dead(q, chunk).await?;
            for (id, r) in chunk.iter().zip(res) {
                match r {
                    1 => {
                        requeued += 1;
                        missing.retain(|m| m != id);
                    }
                    -1 => {
                        held += 1;
                        missing.retain(|m| m != id);
                        eprintln!("skipped {id}: another task with its unique key is queued");
                    }
                    _ => {}
                }
            }
            pb.inc(chunk.len() as u64);
        }
        pb.finish_and_clear();
    }
    if ctx.json {
        output::json(
            &serde_json::json!({"requeued": requeued, "skipped_unique_held": held, "refused_secret": refused, "not_found": missing}),
        );
    } else {
        eprintln!("requeued {requeued} task(s)");
    }
    if refused > 0 {
        return Err(CliError::failure(format!(
            "{refused} task(s) not requeued: their message carries a secret"
        ))
        .with_hint(
            "purge them with `ciq purge --state dead` and enqueue them again without the secret",
        ));
    }
    if !a.dead && !missing.is_empty() {
        return Err(
            CliError::failure(format!("not dead (or not found): {}", missing.join(", ")))
                .with_hint("list dead tasks with `ciq inspect dead`"),
        );
    }
    Ok(ExitCode::SUCCESS)
}

/// Drops (and reports) the dead tasks whose stored message carries a secret: requeueing
/// builds a fresh message, and no path that builds one lets a secret through.
async fn refuse_secrets(
    broker: &crate::broker::Broker,
    queue: &str,
    ids: Vec<String>,
    missing: &mut Vec<String>,
    refused: &mut u64,
) -> CliResult<Vec<String>> {
    let datas = broker.task_data(queue, &ids).await?;
    let mut keep = Vec::with_capacity(ids.len());
    for (id, data) in ids.into_iter().zip(datas) {
        let secret = data
            .as_deref()
            .and_then(|d| crate::broker::Envelope::from_json(d).ok())
            .is_some_and(|e| {
                crate::secrets::find_secret_arg(&e.args).is_some()
                    || e.unique_key
                        .as_deref()
                        .is_some_and(crate::secrets::unique_has_secret)
            });
        if secret {
            *refused += 1;
            missing.retain(|m| m != &id);
            eprintln!(
                "refused {id}: its message carries a secret; secrets never travel in task messages"
            );
        } else {
            keep.push(id);
        }
    }
    Ok(keep)
}
