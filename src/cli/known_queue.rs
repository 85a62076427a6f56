//! Queue names given on the command line are checked as the config file's are: a typo
//! must neither queue work nobody runs nor report success. Commands that put work in or
//! take it out (`enqueue --queue`, `work -Q`, `up -Q`) accept only the declared queues;
//! commands that look or clean up (`depth`, `purge`, `pause`, `resume`, `requeue`,
//! `inspect`) also accept a queue Redis still knows (an old queue being drained).

use super::{CliError, CliResult, Ctx};
use crate::broker::Broker;

const HINT: &str = "list them with `ciq depth`; declare new ones under [queues] in ciq.toml";

/// Exit 2 with one line when any of `names` is not a known queue.
pub async fn require_known(broker: &Broker, ctx: &Ctx, names: &[String]) -> CliResult<()> {
    if names.is_empty() {
        return Ok(());
    }
    let known = broker.known_queues(&ctx.config.queue_names()).await?;
    if let Some(bad) = names.iter().find(|n| !known.contains(n)) {
        return Err(CliError::usage(format!(
            "unknown queue {bad:?}; known queues: {}",
            known.join(", ")
        ))
        .with_hint(HINT));
    }
    Ok(())
}

/// Exit 2 with one line when `name` is not declared under [queues] in `declared`.
pub fn require_declared(flag: &str, name: &str, declared: &[String]) -> CliResult<()> {
    if declared.iter().any(|d| d == name) {
        return Ok(());
    }
    Err(CliError::usage(format!(
        "{flag} {name:?}: not a declared queue (declared: {}); no worker would take its tasks",
        declared.join(", ")
    ))
    .with_hint("declare it under [queues] in ciq.toml, or fix the name"))
}
