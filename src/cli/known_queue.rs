//! Operator commands that name queues (`purge`, `pause`, `resume`) refuse a name that is
//! neither configured nor known to Redis: a typo must not report success.

use super::{CliError, CliResult, Ctx};
use crate::broker::Broker;

/// Exit 2 with one line when any of `names` is not a known queue.
pub async fn require_known(broker: &Broker, ctx: &Ctx, names: &[String]) -> CliResult<()> {
    let known = broker.known_queues(&ctx.config.queue_names()).await?;
    if let Some(bad) = names.iter().find(|n| !known.contains(n)) {
        return Err(CliError::usage(format!(
            "unknown queue {bad:?}; known queues: {}",
            known.join(", ")
        ))
        .with_hint("list them with `ciq depth`; declare new ones under [queues] in ciq.toml"));
    }
    Ok(())
}
