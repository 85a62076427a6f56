//! The message format stored in Redis. Versioned; fields are only ever added.

use serde::{Deserialize, Serialize};

pub const ENVELOPE_VERSION: u32 = 1;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Envelope {
    /// Always first so Lua can read the id without a JSON decode.
    pub v: u32,
    pub id: String,
    pub task: String,
    pub queue: String,
    #[serde(default)]
    pub args: serde_json::Map<String, serde_json::Value>,
    /// 1-based number of the current (or next) attempt.
    pub attempt: u32,
    pub max_retries: u32,
    /// ms since the epoch.
    pub enqueued_at: u64,
    /// Recorded in the task history, its record made at its first outcome: while it
    /// waits in the pending list, the message itself (with `enqueued_at`) is the record,
    /// so a pending task costs Redis no second entry. Written `"h":true`, only when set.
    #[serde(rename = "h", default, skip_serializing_if = "std::ops::Not::not")]
    pub history: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub eta: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unique_key: Option<String>,
    /// Soft and hard time limits in ms.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub soft_limit_ms: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hard_limit_ms: Option<u64>,
    /// Times this task has been claimed (redelivery cap for poison messages). Not written
    /// while 0 (most pending messages): 15 bytes less per pending task.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub deliveries: u32,
    /// Times the task was deferred (run again later without using up an attempt).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub deferrals: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_error: Option<String>,
    /// Why the task is dead, when it is.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// Set when the submitter waits for the outcome (`enqueue --wait`).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub notify: bool,
}

impl Envelope {
    /// A fresh first attempt of `task` on `queue`, enqueued now, with a new id.
    pub fn new(
        task: &str,
        queue: &str,
        args: serde_json::Map<String, serde_json::Value>,
        max_retries: u32,
    ) -> Envelope {
        Envelope {
            v: ENVELOPE_VERSION,
            id: new_id(),
            task: task.to_string(),
            queue: queue.to_string(),
            args,
            attempt: 1,
            max_retries,
            enqueued_at: now_ms(),
            history: false,
            eta: None,
            unique_key: None,
            soft_limit_ms: None,
            hard_limit_ms: None,
            deliveries: 0,
            deferrals: 0,
            last_error: None,
            reason: None,
            notify: false,
        }
    }

    /// Takes the history mark off (`"h":true`): the transition that calls this writes
    /// the task's record, so the message it stores must say there is one. Returns the
    /// enqueue time when the message was marked (finish.lua makes the record from it).
    pub fn take_history_mark(&mut self) -> Option<u64> {
        std::mem::take(&mut self.history).then_some(self.enqueued_at)
    }

    pub fn to_json(&self) -> String {
        serde_json::to_string(self).expect("envelope serializes")
    }

    pub fn from_json(s: &str) -> Result<Self, String> {
        let e: Envelope =
            serde_json::from_str(s).map_err(|e| format!("undecodable message: {e}"))?;
        if e.v != ENVELOPE_VERSION {
            return Err(format!("unsupported envelope version {}", e.v));
        }
        Ok(e)
    }
}

pub fn new_id() -> String {
    ulid::Ulid::new().to_string()
}

pub fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

fn is_zero(n: &u32) -> bool {
    *n == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn id_is_first_after_version() {
        let e = Envelope {
            id: "X1".into(),
            ..Envelope::new("noop", "default", Default::default(), 0)
        };
        assert!(e.to_json().starts_with("{\"v\":1,\"id\":\"X1\""));
        assert_eq!(Envelope::from_json(&e.to_json()).unwrap(), e);
        assert!(Envelope::from_json("{nope").is_err());
    }

    #[test]
    fn a_first_delivery_is_not_written_and_reads_back_as_zero() {
        let mut e = Envelope::new("noop", "default", Default::default(), 0);
        assert!(!e.to_json().contains("deliveries"), "{}", e.to_json());
        assert_eq!(Envelope::from_json(&e.to_json()).unwrap().deliveries, 0);
        e.deliveries = 2;
        assert!(e.to_json().contains("\"deliveries\":2"));
        assert_eq!(Envelope::from_json(&e.to_json()).unwrap(), e);
    }

    #[test]
    fn the_history_mark_comes_after_the_enqueue_time_and_only_when_set() {
        let mut e = Envelope::new("noop", "default", Default::default(), 0);
        assert!(!e.to_json().contains("\"h\""), "{}", e.to_json());
        e.history = true;
        let j = e.to_json();
        assert!(
            j.contains(&format!("\"enqueued_at\":{},\"h\":true", e.enqueued_at)),
            "{j}"
        );
        assert_eq!(Envelope::from_json(&j).unwrap(), e);
    }
}
