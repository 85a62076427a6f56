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
        let mut c = self.conn();
        let res: Vec<i64> = finish_call(q, worker, items, dead_max, hist)
            .invoke_async(&mut c)
            .await
            .map_err(|e| self.err(e))?;
        self.replicated(&mut c).await?;
        Ok(applied(res))
    }
}

/// The `finish.lua` call that records `items` (outcomes of `worker`'s runs on `q`).
pub(crate) fn finish_call(
    q: &QueueKeys,
    worker: &str,
    items: &[Finish],
    dead_max: u64,
    hist: HistoryLimits,
) -> redis::ScriptInvocation<'static> {
    let mut inv = FINISH.prepare_invoke();
    for k in finish_keys(q, items) {
        inv.key(k);
    }
    push_finish_args(&mut inv, q, worker, items, dead_max, hist);
    inv
}

/// `finish.lua`'s keys: the queue's, then the unique keys of the batch's tasks.
pub(crate) fn finish_keys(q: &QueueKeys, items: &[Finish]) -> Vec<String> {
    let mut keys: Vec<String> = [
        &q.lease,
        &q.active,
        &q.data,
        &q.pending,
        &q.retry,
        &q.dead,
        &q.stats,
        &q.superseded,
        &q.history,
        &q.history_ended,
    ]
    .into_iter()
    .cloned()
    .collect();
    let mut uniques: Vec<String> = items
        .iter()
        .filter_map(|f| f.unique_key.as_deref().map(|u| q.unique(u)))
        .collect();
    uniques.sort_unstable();
    uniques.dedup();
    keys.extend(uniques);
    keys
}

/// How many arguments `push_finish_args` adds for `n` outcomes.
pub(crate) fn finish_arg_count(n: usize) -> usize {
    5 + 8 * n
}

/// `finish.lua`'s arguments (see the script's header).
pub(crate) fn push_finish_args(
    inv: &mut redis::ScriptInvocation<'static>,
    q: &QueueKeys,
    worker: &str,
    items: &[Finish],
    dead_max: u64,
    hist: HistoryLimits,
) {
    inv.arg(worker)
        .arg(q.unique_prefix())
        .arg(dead_max)
        .arg(hist.retention_ms)
        .arg(hist.max);
    for f in items {
        inv.arg(&f.id)
            .arg(f.token)
            .arg(f.kind.as_str())
            .arg(&f.envelope)
            .arg(f.delay_ms)
            .arg(f.unique_key.as_deref().unwrap_or(""))
            .arg(&f.task)
            .arg(f.attempt);
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
