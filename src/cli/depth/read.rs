//! Reading queue depths for `depth`, `depth --check` and `status`.

use crate::broker::queues::Depth;
use crate::broker::{now_ms, Broker};
use crate::cli::{CliResult, Ctx};

/// Every queue's depth; the first queue that cannot be read is the error.
pub async fn depths(broker: &Broker, ctx: &Ctx, only: &[String]) -> CliResult<Vec<Depth>> {
    let (out, failed) = depths_each(broker, ctx, only).await;
    match failed.into_iter().next() {
        Some((_, e)) => Err(e.into()),
        None => Ok(out),
    }
}

/// Every queue's depth that can be read, and the queues that cannot (with why): one
/// unreadable queue (a cluster node down) does not hide the others. When the queue
/// registry cannot be read, the configured queues are read and the registry is named.
pub async fn depths_each(
    broker: &Broker,
    ctx: &Ctx,
    only: &[String],
) -> (Vec<Depth>, Vec<(String, crate::broker::Error)>) {
    let mut failed = vec![];
    let names = if only.is_empty() {
        match broker.known_queues(&ctx.config.queue_names()).await {
            Ok(n) => n,
            Err(e) => {
                failed.push(("registry (ciq:queues)".into(), e));
                ctx.config.queue_names()
            }
        }
    } else {
        only.to_vec()
    };
    let now = now_ms();
    let mut out = vec![];
    for q in names {
        match broker.depth(&q, now).await {
            Ok(d) => out.push(d),
            Err(e) => failed.push((q, e)),
        }
    }
    (out, failed)
}
