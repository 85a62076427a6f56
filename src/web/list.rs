//! `GET /api/tasks` and the queue page: one window of a queue's tasks in one state,
//! sorted by time, with a cursor; search by id or unique key (exact, any queue) or by
//! task name or argument (a bounded scan of the next `SCAN` tasks from the cursor).
//! Arguments are redacted before they are shown or searched, so a search cannot probe
//! a secret's value.

use super::AppState;
use crate::broker::history::{parse_active, parse_events};
use crate::broker::window::{Entry, Listed};
use crate::broker::Envelope;
use crate::output;
use crate::secrets::{redact_args, redact_unique};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// Tasks read per search request at most (the cost bound of a search by name or argument).
pub const SCAN: u64 = 2000;
pub const DEFAULT_LIMIT: u64 = 50;
pub const MAX_LIMIT: u64 = 200;

#[derive(Debug, Default, Deserialize)]
pub struct ListQuery {
    pub queue: Option<String>,
    pub state: Option<String>,
    pub q: Option<String>,
    pub cursor: Option<String>,
    /// oldest | newest
    pub order: Option<String>,
    pub limit: Option<u64>,
}

/// One task in a list (`GET /api/tasks`).
#[derive(Debug, Clone, Serialize)]
pub struct TaskRow {
    pub id: String,
    pub task: Option<String>,
    pub queue: String,
    /// pending, active, scheduled, retry, dead; for ended tasks the last event (done,
    /// failed, dead, purged, canceled).
    pub state: String,
    /// Enqueued (pending), lease expiry (active), due (scheduled, retry), died (dead),
    /// ended (ended): RFC 3339 and epoch ms.
    pub at: String,
    pub at_ms: u64,
    pub attempt: Option<u32>,
    pub unique_key: Option<String>,
    /// Secret-looking values redacted.
    pub args: Option<Map<String, Value>>,
    /// Running: the worker.
    pub worker: Option<String>,
    /// Dead: why; otherwise the last error.
    pub error: Option<String>,
}

/// `GET /api/tasks` (stable schema).
#[derive(Debug, Serialize)]
pub struct TaskPage {
    pub queue: Option<String>,
    pub state: String,
    /// oldest | newest first.
    pub order: String,
    pub q: Option<String>,
    /// Tasks in that state now.
    pub total: u64,
    pub tasks: Vec<TaskRow>,
    /// Pass back as `cursor=` for the next page; null at the end.
    pub next_cursor: Option<String>,
    /// A search by name or argument: how many tasks this page looked at.
    pub scanned: Option<u64>,
}

fn row_from_envelope(queue: &str, state: &str, at_ms: u64, env: &Envelope) -> TaskRow {
    TaskRow {
        id: env.id.clone(),
        task: Some(env.task.clone()),
        queue: queue.into(),
        state: state.into(),
        at: output::ts(at_ms),
        at_ms,
        attempt: Some(env.attempt),
        unique_key: env.unique_key.as_deref().map(redact_unique),
        args: Some(redact_args(&env.args)),
        worker: None,
        error: env.reason.clone().or_else(|| env.last_error.clone()),
    }
}

/// A row from one window entry; None when the record is gone or unreadable.
pub fn row(queue: &str, state: Listed, e: &Entry) -> Option<TaskRow> {
    let raw = e.raw.as_deref()?;
    match state {
        Listed::Active => {
            let (worker, _, env) = parse_active(raw);
            let mut r = row_from_envelope(queue, "active", e.at_ms, env.as_ref()?);
            r.worker = Some(worker);
            Some(r)
        }
        Listed::Ended => {
            let events = parse_events(raw);
            let last = events.last()?;
            let env = events.iter().rev().find_map(|ev| ev.envelope.as_ref());
            Some(TaskRow {
                id: e.id.clone()?,
                task: events
                    .iter()
                    .find_map(|ev| ev.task.clone())
                    .or_else(|| env.map(|v| v.task.clone())),
                queue: queue.into(),
                state: last.ev.clone(),
                at: output::ts(e.at_ms),
                at_ms: e.at_ms,
                attempt: events.iter().rev().find_map(|ev| ev.attempt),
                unique_key: env.and_then(|v| v.unique_key.as_deref().map(redact_unique)),
                args: env.map(|v| redact_args(&v.args)),
                worker: None,
                error: last
                    .reason
                    .clone()
                    .or_else(|| events.iter().rev().find_map(|ev| ev.error.clone())),
            })
        }
        _ => {
            let env = Envelope::from_json(raw).ok()?;
            Some(row_from_envelope(queue, state.name(), e.at_ms, &env))
        }
    }
}

/// A row from `inspect task --json` (an exact hit of a search).
fn row_from_view(v: &Value) -> Option<TaskRow> {
    let s = |k: &str| v[k].as_str().map(String::from);
    let last = v["events"].as_array().and_then(|e| e.last());
    let at_ms = last.and_then(|e| e["at_ms"].as_u64()).unwrap_or(0);
    Some(TaskRow {
        id: s("id")?,
        task: s("task"),
        queue: s("queue")?,
        state: s("state")?,
        at: output::ts(at_ms),
        at_ms,
        attempt: v["attempt"].as_u64().map(|a| a as u32),
        unique_key: s("unique_key"),
        args: v["args"].as_object().cloned(),
        worker: s("worker"),
        error: s("reason").or_else(|| s("last_error")),
    })
}

fn matches(r: &TaskRow, needle: &str) -> bool {
    let hay = |s: &str| s.to_lowercase().contains(needle);
    hay(&r.id)
        || r.task.as_deref().is_some_and(hay)
        || r.unique_key.as_deref().is_some_and(hay)
        || r.args
            .as_ref()
            .is_some_and(|a| hay(&Value::Object(a.clone()).to_string()))
}

/// Where a page starts in its state's list: the `cursor` (a position; absent = 0).
pub(crate) fn cursor_offset(lq: &ListQuery) -> Result<u64, (u16, String)> {
    match lq.cursor.as_deref() {
        None | Some("") => Ok(0),
        Some(c) => c
            .parse()
            .map_err(|_| (400, format!("bad cursor {c:?}: pass back next_cursor"))),
    }
}

/// Builds one page; `Err((400|404|503, why))`.
pub(crate) async fn page(app: &AppState, lq: &ListQuery) -> Result<TaskPage, (u16, String)> {
    let state_name = lq.state.as_deref().unwrap_or("pending");
    let state = Listed::parse(state_name).ok_or_else(|| {
        (
            400,
            format!(
                "unknown state {state_name:?}: pending, active, scheduled, retry, dead or ended"
            ),
        )
    })?;
    let newest = match lq.order.as_deref() {
        None | Some("") => state.newest_first_by_default(),
        Some("newest") => true,
        Some("oldest") => false,
        Some(o) => return Err((400, format!("unknown order {o:?}: oldest or newest"))),
    };
    let limit = lq.limit.unwrap_or(DEFAULT_LIMIT).clamp(1, MAX_LIMIT);
    let offset = cursor_offset(lq)?;
    let q = lq.q.as_deref().map(str::trim).filter(|q| !q.is_empty());
    let mut out = TaskPage {
        queue: lq.queue.clone(),
        state: state.name().into(),
        order: if newest { "newest" } else { "oldest" }.into(),
        q: q.map(String::from),
        total: 0,
        tasks: vec![],
        next_cursor: None,
        scanned: None,
    };
    if let Some(needle) = q {
        // An id or a unique key (start_test:4211) names one task, in any queue.
        if offset == 0 {
            if let Ok(Some(v)) = app.source.task(needle.to_string(), None).await {
                if let Some(r) = row_from_view(&v) {
                    if lq.queue.as_deref().is_none_or(|qn| qn == r.queue) {
                        out.tasks.push(r);
                        return Ok(out);
                    }
                }
            }
        }
    }
    let Some(queue) = lq.queue.as_deref() else {
        return Err((
            400,
            "give queue= (a search by id or unique key found nothing)".into(),
        ));
    };
    crate::broker::keys::validate_queue_name(queue).map_err(|e| (400, e))?;
    let broker_err = |e: crate::broker::Error| (503, format!("cannot read queue {queue}: {e}"));
    match q {
        None => {
            let (total, entries) = app
                .broker
                .window(queue, state, offset, limit, newest)
                .await
                .map_err(broker_err)?;
            out.total = total;
            out.tasks = entries
                .iter()
                .filter_map(|e| row(queue, state, e))
                .collect();
            let next = offset + limit;
            out.next_cursor = (next < total).then(|| next.to_string());
        }
        Some(needle) => {
            let needle = needle.to_lowercase();
            let (total, entries) = app
                .broker
                .window(queue, state, offset, SCAN, newest)
                .await
                .map_err(broker_err)?;
            out.total = total;
            let mut scanned = 0u64;
            for e in &entries {
                scanned += 1;
                if let Some(r) = row(queue, state, e).filter(|r| matches(r, &needle)) {
                    out.tasks.push(r);
                    if out.tasks.len() as u64 == limit {
                        break;
                    }
                }
            }
            let next = offset + scanned;
            out.scanned = Some(scanned);
            out.next_cursor = (next < total).then(|| next.to_string());
        }
    }
    Ok(out)
}
