//! Task history for `inspect task` and `enqueue --wait`: the per-task record that the
//! Lua transitions append to (enqueue, finish, sweep, requeue, purge), read together with
//! the task's live state (running, scheduled, retrying, dead) in one round trip per queue.

use super::pending::PendingLookup;
use super::{Broker, Envelope, QueueKeys, Result};
use serde::{Deserialize, Serialize};

/// One event of a task's history, as the scripts write it (JSON, one per line).
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct Event {
    /// When it happened (ms since the epoch).
    pub at: u64,
    /// enqueued, scheduled, claimed, done, retried, deferred, dead, failed, released,
    /// lease_expired, requeued, purged, canceled.
    pub ev: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub worker: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub attempt: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// Retried or deferred: when it runs again (ms).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_at: Option<u64>,
    /// Scheduled: when it is due (ms).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub due_at: Option<u64>,
    /// Done: the output tail the task returned.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub output: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub task: Option<String>,
    /// Enqueued or scheduled by `ciq enqueue`: the message as submitted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub envelope: Option<Envelope>,
    /// Purged: from which state.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub from: Option<String>,
}

/// Where a task is right now, besides its history.
#[derive(Debug, Clone, Default)]
pub struct Live {
    /// Running: (worker, claimed at ms, envelope).
    pub active: Option<(String, u64, Option<Envelope>)>,
    pub scheduled_at: Option<u64>,
    pub retry_at: Option<u64>,
    pub dead_at: Option<u64>,
    /// The stored message of a scheduled, retrying or dead task.
    pub stored: Option<Envelope>,
}

/// A task found in one queue: its history (oldest first) and live state.
#[derive(Debug, Clone)]
pub struct TaskRecord {
    pub id: String,
    pub queue: String,
    pub events: Vec<Event>,
    pub live: Live,
}

/// Parses a stored record; a line that does not parse is skipped (never fatal).
/// Lines are JSON events, or the compact form `finish.lua` writes for a run that
/// succeeded without output: `~<claimed ms>|<attempt>|<done ms>|<worker>` (a `claimed`
/// and a `done` event).
pub fn parse_events(raw: &str) -> Vec<Event> {
    let mut out = Vec::new();
    for l in raw.lines() {
        if let Some(c) = l.strip_prefix('~') {
            out.extend(compact_run(c).into_iter().flatten());
        } else if let Ok(e) = serde_json::from_str(l) {
            out.push(e);
        }
    }
    out
}

/// When a stored record says its task ended: its last event, read past `fenced` notes,
/// when that is an end (done, dead, failed, canceled, purged); None while it is live
/// again. An entry of the end list naming another time is stale: the task ended again
/// later (the same rule `history_trim.lua` trims by).
pub fn ended_at(raw: &str) -> Option<u64> {
    let last = parse_events(raw)
        .into_iter()
        .rev()
        .find(|e| e.ev != "fenced")?;
    matches!(
        last.ev.as_str(),
        "done" | "dead" | "failed" | "canceled" | "purged"
    )
    .then_some(last.at)
}

/// A compact line (without its `~`) as its `claimed` and `done` events.
fn compact_run(c: &str) -> Option<[Event; 2]> {
    let mut p = c.splitn(4, '|');
    let claimed = p.next()?.parse::<u64>().ok()?;
    let attempt = p.next()?.parse::<u32>().ok()?;
    let done = p.next()?.parse::<u64>().ok()?;
    let worker = p.next()?.to_string();
    let ev = |at, ev: &str| Event {
        at,
        ev: ev.into(),
        ..Event::default()
    };
    Some([
        Event {
            worker: Some(worker),
            attempt: (attempt > 0).then_some(attempt),
            ..ev(claimed, "claimed")
        },
        ev(done, "done"),
    ])
}

impl Broker {
    /// Looks task `id` up in each queue (in order) and returns the first that knows it.
    /// A pending task without a record (its message marked for one at its first outcome,
    /// or bulk-queued unrecorded) is found by scanning the pending lists; its record is
    /// then its `enqueued` event, made from the message. A task claimed during that scan
    /// is looked up once more where it went.
    pub async fn task_record(&self, id: &str, queues: &[String]) -> Result<Option<TaskRecord>> {
        self.task_record_by(id, queues, PendingLookup::Scan).await
    }

    /// `task_record`, reading the pending lists only as far as `how` allows (the web's
    /// look-ups stay bounded whatever a queue's length).
    pub async fn task_record_by(
        &self,
        id: &str,
        queues: &[String],
        how: PendingLookup,
    ) -> Result<Option<TaskRecord>> {
        if let Some(r) = self.recorded_task(id, queues).await? {
            return Ok(Some(r));
        }
        for queue in queues {
            let q = QueueKeys::new(queue);
            let Some(env) = self
                .find_pending_by(&q, id, how)
                .await?
                .and_then(|raw| Envelope::from_json(&raw).ok())
            else {
                continue;
            };
            return Ok(Some(TaskRecord {
                id: id.to_string(),
                queue: queue.clone(),
                events: vec![Event {
                    at: env.enqueued_at,
                    ev: "enqueued".into(),
                    task: Some(env.task.clone()),
                    envelope: Some(env),
                    ..Default::default()
                }],
                live: Live::default(),
            }));
        }
        self.recorded_task(id, queues).await
    }

    /// The first queue that has task `id` in its history, running, or stored (scheduled,
    /// retrying, dead).
    async fn recorded_task(&self, id: &str, queues: &[String]) -> Result<Option<TaskRecord>> {
        let mut c = self.conn();
        for queue in queues {
            let q = QueueKeys::new(queue);
            type Row = (
                Option<String>,
                Option<String>,
                Option<f64>,
                Option<f64>,
                Option<f64>,
                Option<String>,
            );
            let (hist, active, sched, retry, dead, data): Row = redis::pipe()
                .hget(&q.history, id)
                .hget(&q.active, id)
                .zscore(&q.scheduled, id)
                .zscore(&q.retry, id)
                .zscore(&q.dead, id)
                .hget(&q.data, id)
                .query_async(&mut c)
                .await
                .map_err(|e| self.err(e))?;
            if hist.is_none() && active.is_none() && data.is_none() {
                continue;
            }
            let active = active.map(|cur| parse_active(&cur));
            return Ok(Some(TaskRecord {
                id: id.to_string(),
                queue: queue.clone(),
                events: hist.as_deref().map(parse_events).unwrap_or_default(),
                live: Live {
                    active,
                    scheduled_at: sched.map(|s| s as u64),
                    retry_at: retry.map(|s| s as u64),
                    dead_at: dead.map(|s| s as u64),
                    stored: data.and_then(|d| Envelope::from_json(&d).ok()),
                },
            }));
        }
        Ok(None)
    }

    /// The id of the task that holds unique key `key` now, or held it last (while its
    /// history is kept), searching the queues in order.
    pub async fn unique_task(&self, key: &str, queues: &[String]) -> Result<Option<String>> {
        let mut c = self.conn();
        for queue in queues {
            let q = QueueKeys::new(queue);
            let (held, last): (Option<String>, Option<String>) = redis::pipe()
                .get(q.unique(key))
                .hget(&q.history, format!("u:{key}"))
                .query_async(&mut c)
                .await
                .map_err(|e| self.err(e))?;
            if let Some(id) = held.or(last) {
                return Ok(Some(id));
            }
        }
        Ok(None)
    }
}

/// An active entry as `claim.lua` writes it: "<worker>|<claim token>|<claimed ms>|<envelope>"
/// (before claim tokens: "<worker>|<claimed ms>|<envelope>"), read in place. The one
/// reader of that format on this side (sweep, cancel, `inspect active`, the web).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ActiveEntry<'a> {
    pub worker: &'a str,
    /// The run's claim token (None in an entry from before claim tokens).
    pub token: Option<u64>,
    pub claimed_ms: u64,
    /// The envelope JSON as claimed (maybe not a readable envelope).
    pub envelope: &'a str,
}

impl<'a> ActiveEntry<'a> {
    pub fn parse(cur: &'a str) -> Self {
        let p: Vec<&str> = cur.splitn(4, '|').collect();
        let num = |i: usize| p.get(i).and_then(|a| a.parse::<u64>().ok());
        let worker = p.first().copied().unwrap_or("");
        if let (4, Some(token), Some(claimed_ms)) = (p.len(), num(1), num(2)) {
            return ActiveEntry {
                worker,
                token: Some(token),
                claimed_ms,
                envelope: p[3],
            };
        }
        ActiveEntry {
            worker,
            token: None,
            claimed_ms: num(1).unwrap_or(0),
            envelope: cur.splitn(3, '|').nth(2).unwrap_or(""),
        }
    }
}

/// An active entry as (worker, claimed at ms, envelope).
pub fn parse_active(cur: &str) -> (String, u64, Option<Envelope>) {
    let a = ActiveEntry::parse(cur);
    (
        a.worker.to_string(),
        a.claimed_ms,
        Envelope::from_json(a.envelope).ok(),
    )
}

impl TaskRecord {
    /// pending, scheduled, running, retrying, deferred, done, dead, failed, purged,
    /// canceled.
    pub fn state(&self) -> &'static str {
        // A `fenced` note says how a superseded run stopped (after its task was
        // recovered or canceled): the task's state is what came before it.
        let last = self
            .events
            .iter()
            .rev()
            .map(|e| e.ev.as_str())
            .find(|ev| *ev != "fenced")
            .unwrap_or("");
        let l = &self.live;
        if l.active.is_some() {
            "running"
        } else if l.scheduled_at.is_some() {
            "scheduled"
        } else if l.retry_at.is_some() {
            if last == "deferred" {
                "deferred"
            } else {
                "retrying"
            }
        } else if l.dead_at.is_some() {
            if last == "failed" {
                "failed"
            } else {
                "dead"
            }
        } else {
            match last {
                "done" => "done",
                "purged" => "purged",
                "canceled" => "canceled",
                // A dead task trimmed from the dead set keeps its last word.
                "dead" => "dead",
                "failed" => "failed",
                _ => "pending",
            }
        }
    }

    /// The freshest message known: the live one, else the one it was submitted with.
    pub fn envelope(&self) -> Option<&Envelope> {
        self.live
            .active
            .as_ref()
            .and_then(|a| a.2.as_ref())
            .or(self.live.stored.as_ref())
            .or_else(|| self.events.iter().rev().find_map(|e| e.envelope.as_ref()))
    }

    /// The task name, from the message or the history.
    pub fn task(&self) -> Option<String> {
        self.envelope()
            .map(|e| e.task.clone())
            .or_else(|| self.events.iter().find_map(|e| e.task.clone()))
    }

    /// The most recent error any event reported.
    pub fn last_error(&self) -> Option<&str> {
        self.events.iter().rev().find_map(|e| e.error.as_deref())
    }

    /// The most recent attempt number seen (claim events), else the message's.
    pub fn attempt(&self) -> Option<u32> {
        self.events
            .iter()
            .rev()
            .find_map(|e| e.attempt)
            .or_else(|| self.envelope().map(|e| e.attempt))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_parse_and_state_follows_the_last_one() {
        let raw = "{\"at\":1,\"ev\":\"enqueued\",\"task\":\"noop\"}\nnot json\n\
                   {\"at\":2,\"ev\":\"claimed\",\"worker\":\"w\",\"attempt\":1}\n\
                   {\"at\":3,\"ev\":\"retried\",\"error\":\"boom\",\"next_at\":9}\n\
                   {\"at\":4,\"ev\":\"claimed\",\"worker\":\"w\",\"attempt\":2}\n\
                   {\"at\":5,\"ev\":\"done\",\"output\":\"ok\"}";
        let mut r = TaskRecord {
            id: "X".into(),
            queue: "default".into(),
            events: parse_events(raw),
            live: Live::default(),
        };
        assert_eq!(r.events.len(), 5);
        assert_eq!(r.state(), "done");
        assert_eq!(r.last_error(), Some("boom"));
        assert_eq!(r.attempt(), Some(2));
        assert_eq!(r.task().as_deref(), Some("noop"));
        r.live.retry_at = Some(9);
        assert_eq!(r.state(), "retrying");
        r.live.retry_at = None;
        r.events
            .push(serde_json::from_str(r#"{"at":6,"ev":"canceled"}"#).unwrap());
        assert_eq!(r.state(), "canceled");
        // The canceled run's worker then notes how it stopped: still canceled.
        r.events
            .push(serde_json::from_str(r#"{"at":7,"ev":"fenced"}"#).unwrap());
        assert_eq!(r.state(), "canceled");
    }

    #[test]
    fn a_compact_run_line_reads_as_its_claim_and_success_beside_json_lines() {
        let raw = "{\"at\":1,\"ev\":\"enqueued\",\"task\":\"noop\"}\n\
                   ~2|1|3|host-7\n~bad|line\n\
                   {\"at\":4,\"ev\":\"claimed\",\"worker\":\"w\",\"attempt\":2}\n\
                   {\"at\":5,\"ev\":\"retried\",\"error\":\"boom\"}";
        let ev = parse_events(raw);
        let names: Vec<&str> = ev.iter().map(|e| e.ev.as_str()).collect();
        assert_eq!(names, ["enqueued", "claimed", "done", "claimed", "retried"]);
        assert_eq!(
            (ev[1].at, ev[1].worker.as_deref(), ev[1].attempt),
            (2, Some("host-7"), Some(1))
        );
        assert_eq!((ev[2].at, ev[2].worker.as_deref()), (3, None));
    }

    #[test]
    fn a_record_ended_at_its_last_end_read_past_fenced_notes_and_not_while_live_again() {
        let first = "{\"at\":1,\"ev\":\"enqueued\"}\n{\"at\":2,\"ev\":\"dead\"}";
        assert_eq!(ended_at(first), Some(2));
        let again = format!("{first}\n{{\"at\":3,\"ev\":\"requeued\"}}");
        assert_eq!(ended_at(&again), None, "live again");
        let done = format!("{again}\n~4|2|5|w\n{{\"at\":6,\"ev\":\"fenced\"}}");
        assert_eq!(
            ended_at(&done),
            Some(5),
            "its second end, past the fenced note"
        );
    }

    #[test]
    fn an_active_entry_with_a_claim_token_gives_its_claim_time_and_message() {
        let env = r#"{"v":1,"id":"T","task":"noop","queue":"q","attempt":1,"max_retries":0,"enqueued_at":5}"#;
        let (w, at, e) = parse_active(&format!("w1|42|1700|{env}"));
        assert_eq!((w.as_str(), at), ("w1", 1700));
        assert_eq!(e.map(|e| e.id), Some("T".to_string()));
        let (w, at, e) = parse_active(&format!("w1|1700|{env}"));
        assert_eq!((w.as_str(), at), ("w1", 1700));
        assert!(e.is_some());
    }

    #[test]
    fn an_active_entry_gives_its_run_token_and_the_envelope_with_its_bars() {
        let env = r#"{"v":1,"id":"T","args":{"cmd":"a|b"}}"#;
        let cur = format!("w1|42|1700|{env}");
        let a = ActiveEntry::parse(&cur);
        assert_eq!(
            (a.worker, a.token, a.claimed_ms, a.envelope),
            ("w1", Some(42), 1700, env)
        );
        let old = format!("w1|1700|{env}");
        let a = ActiveEntry::parse(&old);
        assert_eq!(
            (a.worker, a.token, a.claimed_ms, a.envelope),
            ("w1", None, 1700, env)
        );
        let a = ActiveEntry::parse("");
        assert_eq!(
            (a.worker, a.token, a.claimed_ms, a.envelope),
            ("", None, 0, "")
        );
    }
}
