//! Finishing: a batch of runs' outcomes recorded in one script, each carrying its run's
//! fencing token, so a superseded run changes nothing.

use super::scripts::FINISH;
use super::{Broker, QueueKeys, Result};

/// What `finish` did with one run's outcome.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Applied {
    /// Recorded now.
    Yes,
    /// Refused: the run's lease expired and the task was recovered; another run counts.
    Superseded,
    /// Recorded earlier by this very run (a retried write whose first reply was lost).
    Already,
}

/// How a task ended, as recorded by `finish`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FinishKind {
    Done,
    /// Back to the retry set until `score` (ms).
    Retry,
    /// Dead after retries ran out or as poison.
    Dead,
    /// Dead after a permanent failure.
    Failed,
    /// Back to the front of pending (shutdown); not an attempt.
    Requeue,
    /// Back to the retry set until `score` (ms) without using up an attempt.
    Defer,
    /// The worker stopped the run itself (lease not renewed in time, or superseded):
    /// back to pending if the run is still current, else only noted in the history.
    Fenced,
}

impl FinishKind {
    pub fn as_str(self) -> &'static str {
        match self {
            FinishKind::Done => "done",
            FinishKind::Retry => "retry",
            FinishKind::Dead => "dead",
            FinishKind::Failed => "failed",
            FinishKind::Requeue => "requeue",
            FinishKind::Defer => "defer",
            FinishKind::Fenced => "fenced",
        }
    }
}

/// How long and how many ended tasks' histories a queue keeps (`inspect task`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HistoryLimits {
    /// Kept this long after the task ended (ms).
    pub retention_ms: u64,
    /// At most this many ended tasks per queue (oldest trimmed first).
    pub max: u64,
}

#[derive(Debug, Clone)]
pub struct Finish {
    pub id: String,
    /// The claim token of the run this outcome belongs to.
    pub token: u64,
    pub kind: FinishKind,
    /// The envelope to store (retry, dead, requeue); empty for done.
    pub envelope: String,
    /// Retry: how long from now (Redis's clock) until the task is due again.
    pub delay_ms: u64,
    pub unique_key: Option<String>,
    /// Task name, for per-task counters.
    pub task: String,
    /// The run's attempt, as claimed (for the history's `claimed` event; 0 = unknown, the
    /// script then reads it from the active entry).
    pub attempt: u32,
    /// The message is marked for a history record made at its first outcome
    /// (`"h":true`): its enqueue time, so the script need not read it out of the message.
    pub marked_at: Option<u64>,
}

/// A batch of outcomes to record: `worker`'s runs on `q`, the queue's dead-letter cap and
/// history limits.
#[derive(Clone, Copy)]
pub struct Outcomes<'a> {
    pub q: &'a QueueKeys,
    /// The worker whose runs these are (an outcome applies only to its own run).
    pub worker: &'a str,
    pub items: &'a [Finish],
    /// At most this many dead tasks are kept (oldest dropped first).
    pub dead_max: u64,
    pub hist: HistoryLimits,
}

impl Broker {
    /// Records outcomes; returns, per item, what became of it.
    pub async fn finish(
        &self,
        q: &QueueKeys,
        worker: &str,
        items: &[Finish],
        dead_max: u64,
        hist: HistoryLimits,
    ) -> Result<Vec<Applied>> {
        let o = Outcomes {
            q,
            worker,
            items,
            dead_max,
            hist,
        };
        let mut inv = FINISH.prepare_invoke();
        push_finish_keys(&mut inv, &o);
        push_finish_args(&mut inv, &o);
        let mut c = self.conn();
        let res: Vec<i64> = inv.invoke_async(&mut c).await.map_err(|e| self.err(e))?;
        self.replicated(&mut c).await?;
        Ok(applied(res))
    }
}

/// `finish.lua`'s keys onto `inv`: the queue's, then the unique keys of the batch's
/// tasks; returns how many.
pub(crate) fn push_finish_keys(inv: &mut redis::ScriptInvocation<'static>, o: &Outcomes) -> usize {
    let q = o.q;
    for k in [
        &q.lease,
        &q.active,
        &q.data,
        &q.pending,
        &q.retry,
        &q.dead,
        &q.stats,
        &q.superseded,
        &q.history,
        &q.history_ends,
    ] {
        inv.key(k);
    }
    let mut uniques: Vec<String> = o
        .items
        .iter()
        .filter_map(|f| f.unique_key.as_deref().map(|u| q.unique(u)))
        .collect();
    uniques.sort_unstable();
    uniques.dedup();
    for k in &uniques {
        inv.key(k);
    }
    10 + uniques.len()
}

/// How many arguments `push_finish_args` adds for `n` outcomes.
pub(crate) fn finish_arg_count(n: usize) -> usize {
    5 + 8 * n
}

/// `finish.lua`'s arguments (see the script's header).
pub(crate) fn push_finish_args(inv: &mut redis::ScriptInvocation<'static>, o: &Outcomes) {
    inv.arg(o.worker)
        .arg(o.q.unique_prefix())
        .arg(o.dead_max)
        .arg(o.hist.retention_ms)
        .arg(o.hist.max);
    for f in o.items {
        inv.arg(&f.id)
            .arg(f.token)
            .arg(f.kind.as_str())
            .arg(&f.envelope)
            .arg(f.delay_ms)
            .arg(f.unique_key.as_deref().unwrap_or(""))
            .arg(&f.task);
        match f.marked_at {
            Some(at) => inv.arg(format!("{}|{at}", f.attempt)),
            None => inv.arg(f.attempt),
        };
    }
}

/// `finish.lua`'s reply, per item.
pub(crate) fn applied(res: Vec<i64>) -> Vec<Applied> {
    res.into_iter()
        .map(|r| match r {
            1 => Applied::Yes,
            2 => Applied::Already,
            _ => Applied::Superseded,
        })
        .collect()
}
