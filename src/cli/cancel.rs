//! `ciq cancel ID` / `--unique KEY`: one task becomes canceled (its history says so,
//! its queue's depth drops, its unique key is released); a running one only with
//! `--terminate`.

use super::{CliError, CliResult, Ctx, Kind};
use crate::broker::cancel::Canceled;
use crate::output;
use std::process::ExitCode;

/// Cancel one pending, scheduled or retrying task (a running one with --terminate).
#[derive(Debug, clap::Args)]
#[command(
    after_help = "Examples:\n  ciq cancel 01JD3W6ZJ2K9Q8X7V5T4R3P2N1\n  ciq cancel --unique start_test:4211 --terminate\n\n\
Exit codes: 0 canceled; 1 no record of the task, or it is dead or already ended;\n\
6 it is running and --terminate was not given (nothing changed); 3 Redis unreachable."
)]
pub struct CancelArgs {
    #[command(flatten)]
    pub task: super::inspect::task::TaskRef,
    /// Also cancel a running task: its run loses its lease at once (refused as
    /// superseded; its worker stops it) and it is recorded canceled.
    #[arg(long)]
    pub terminate: bool,
}

pub async fn run(a: CancelArgs, ctx: &Ctx) -> CliResult<ExitCode> {
    let broker = ctx.broker().await?;
    let named = a.task.named();
    let (what, rec) = super::inspect::task::find(&broker, ctx, named).await?;
    let Some(rec) = rec else {
        return Err(CliError::failure(format!("no record of {what}"))
            .with_hint("check the id (ciq inspect task ID), or try --queue"));
    };
    let id = rec.id.clone();
    let res = broker
        .cancel(&rec.queue, &id, a.terminate, "ciq cancel")
        .await?;
    match res {
        Canceled::From(from) => {
            if ctx.json {
                output::json(
                    &serde_json::json!({"id": id, "queue": rec.queue, "canceled": true, "from": from}),
                );
            } else {
                output::print_line(&format!("canceled {id} (was {from}) in {}", rec.queue));
            }
            Ok(ExitCode::SUCCESS)
        }
        Canceled::Running => Err(CliError::new(
            Kind::Refused,
            format!("task {id} is running: nothing changed"),
        )
        .with_hint(format!("ciq cancel {id} --terminate  (stops its run)"))),
        Canceled::Dead => Err(
            CliError::failure(format!("task {id} is dead: nothing to cancel")).with_hint(format!(
                "ciq requeue {id} --queue {0}, or ciq purge {0} --state dead",
                rec.queue
            )),
        ),
        Canceled::NotLive => Err(CliError::failure(format!(
            "task {id} is {}: nothing to cancel",
            rec.state()
        ))),
    }
}
