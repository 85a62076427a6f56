//! Reading queue depths for `depth`, `depth --check` and `status`.

use super::{CliResult, Ctx};
use crate::broker::admin::Depth;
use crate::broker::now_ms;

/// Every queue's depth; the first queue that cannot be read is the error.
pub async fn depths(ctx: &Ctx, only: &[String]) -> CliResult<Vec<Depth>> {
    let broker = ctx.broker().await?;
    let names = if only.is_empty() {
        broker.known_queues(&ctx.config.queue_names()).await?
    } else {
        only.to_vec()
    };
    let now = now_ms();
    let mut out = vec![];
    for q in names {
        out.push(broker.depth(&q, now).await?);
    }
    Ok(out)
}

/// Every queue's depth that can be read, and the queues that cannot (with why): one
/// unreadable queue (a cluster node down) does not hide the others.
pub async fn depths_each(ctx: &Ctx, only: &[String]) -> (Vec<Depth>, Vec<(String, String)>) {
    let mut failed = vec![];
    let broker = match ctx.broker().await {
        Ok(b) => b,
        Err(e) => return (vec![], vec![("*".into(), e.msg)]),
    };
    let names = if only.is_empty() {
        match broker.known_queues(&ctx.config.queue_names()).await {
            Ok(n) => n,
            Err(e) => {
                failed.push(("registry (ciq:queues)".into(), e.to_string()));
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
            Err(e) => failed.push((q, e.to_string())),
        }
    }
    (out, failed)
}
