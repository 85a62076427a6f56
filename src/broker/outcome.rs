//! A task's outcome handed to whoever waits for it: the worker (or a cancel) pushes a
//! [`TaskOutcome`] on the task's notify key; `enqueue --wait` blocks on that key, and the
//! beat reads it for a fire's last outcome.

use super::{keys, Broker, Result};
use redis::AsyncCommands;
use serde::{Deserialize, Serialize};
use std::time::Duration;

/// How a task ended, as its waiters read it; the fields in the order the messages have
/// always had them (`error`, `id`, `result`, `state`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TaskOutcome {
    /// Why it did not end done (redacted); null when it did.
    pub error: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// What a done handler returned (redacted), if anything.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub result: Option<String>,
    pub state: Ended,
}

/// The `state` of a [`TaskOutcome`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Ended {
    Done,
    Dead,
    Canceled,
    /// A state this version does not know: not done.
    #[serde(other)]
    Other,
}

impl TaskOutcome {
    /// A message that cannot be read counts as a failure without a reason.
    fn read(s: &str) -> TaskOutcome {
        serde_json::from_str(s).unwrap_or(TaskOutcome {
            error: None,
            id: None,
            result: None,
            state: Ended::Other,
        })
    }
}

impl Broker {
    /// Tells whoever waits for task `id` (`enqueue --wait`) how it ended.
    pub async fn notify(&self, id: &str, outcome: &TaskOutcome) -> Result<()> {
        let json = serde_json::to_string(outcome).expect("an outcome serializes");
        let mut c = self.conn();
        let k = keys::notify(id);
        redis::pipe()
            .lpush(&k, json)
            .ignore()
            .expire(&k, 3600)
            .ignore()
            .query_async::<()>(&mut c)
            .await
            .map_err(|e| self.err(e))
    }

    /// Waits for the outcome of task `id` (see `notify`); None on timeout.
    pub async fn wait_outcome(&self, id: &str, timeout: Duration) -> Result<Option<TaskOutcome>> {
        let mut c = self.blocking_connection().await?;
        let v: Option<(String, String)> = redis::cmd("BLPOP")
            .arg(keys::notify(id))
            .arg(timeout.as_secs_f64())
            .query_async(&mut c)
            .await
            .map_err(|e| self.err(e))?;
        Ok(v.map(|(_, o)| TaskOutcome::read(&o)))
    }

    /// How task `id` ended, from the outcome message the worker leaves for submitters
    /// that asked (`Envelope::notify`): Some("done"), Some("failed"), or None (not yet,
    /// or a message without a state).
    pub async fn task_outcome(&self, id: &str) -> Result<Option<&'static str>> {
        let mut c = self.conn();
        let v: Option<String> = c
            .lindex(keys::notify(id), 0)
            .await
            .map_err(|e| self.err(e))?;
        Ok(v.and_then(|s| serde_json::from_str::<TaskOutcome>(&s).ok())
            .map(|o| match o.state {
                Ended::Done => "done",
                _ => "failed",
            }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_read_as_they_were_written() {
        let done = TaskOutcome {
            error: None,
            id: Some("01J".into()),
            result: Some("ok".into()),
            state: Ended::Done,
        };
        let json = serde_json::to_string(&done).unwrap();
        assert_eq!(
            json,
            r#"{"error":null,"id":"01J","result":"ok","state":"done"}"#
        );
        assert_eq!(TaskOutcome::read(&json), done);
        let canceled = r#"{"error":"canceled by me (it was pending)","state":"canceled"}"#;
        assert_eq!(TaskOutcome::read(canceled).state, Ended::Canceled);
        assert_eq!(TaskOutcome::read(r#"{"state":"odd"}"#).state, Ended::Other);
        assert_eq!(TaskOutcome::read("not json").state, Ended::Other);
    }
}
