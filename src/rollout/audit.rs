//! The append-only audit log: one JSON object per line — who (the sudo caller if any),
//! when, which command and step, what it found and what it left, and why a step was
//! skipped or gates were overridden.

use crate::sys::files::FsError;
use serde::Serialize;
use std::io::Write;
use std::path::Path;

#[derive(Debug, Clone, Serialize)]
pub struct Entry<'a> {
    pub at: String,
    pub user: String,
    pub command: &'a str,
    pub step: &'a str,
    /// applied | skipped | failed | aborted | gates-forced | gates-refused
    pub outcome: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub before: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub after: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub backup: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

impl<'a> Entry<'a> {
    pub fn new(command: &'a str, step: &'a str, outcome: &'a str) -> Self {
        Entry {
            at: chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
            user: who(),
            command,
            step,
            outcome,
            before: None,
            after: None,
            backup: None,
            reason: None,
        }
    }
}

/// The person behind the command: $SUDO_USER, else $USER, else the numeric uid.
pub fn who() -> String {
    ["SUDO_USER", "USER", "LOGNAME"]
        .iter()
        .filter_map(|v| std::env::var(v).ok())
        .find(|v| !v.is_empty())
        .unwrap_or_else(|| format!("uid {}", unsafe { libc::getuid() }))
}

/// Makes sure entries can be appended before anything is changed.
pub fn ensure_writable(log: &Path) -> Result<(), FsError> {
    open(log).map(|_| ())
}

fn open(log: &Path) -> Result<std::fs::File, FsError> {
    let io = |op: &'static str| {
        move |err| FsError::Io {
            path: log.display().to_string(),
            op,
            err,
        }
    };
    if let Some(dir) = log.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(io("create audit log directory"))?;
    }
    std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(log)
        .map_err(io("open audit log"))
}

/// Appends one line (O_APPEND: concurrent writers never interleave within a line).
pub fn append(log: &Path, entry: &Entry) -> Result<(), FsError> {
    let io = |op: &'static str| {
        move |err| FsError::Io {
            path: log.display().to_string(),
            op,
            err,
        }
    };
    let mut line = serde_json::to_string(entry).unwrap_or_default();
    line.push('\n');
    let mut f = open(log)?;
    f.write_all(line.as_bytes())
        .map_err(io("append to audit log"))?;
    f.sync_data().map_err(io("sync audit log"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn appends_json_lines() {
        let d = tempfile::tempdir().unwrap();
        let log = d.path().join("a/audit.jsonl");
        let mut e = Entry::new("rollback", "stop ciq-beat", "skipped");
        e.reason = Some("beat already down".into());
        append(&log, &e).unwrap();
        append(&log, &Entry::new("rollback", "set flag", "applied")).unwrap();
        let text = std::fs::read_to_string(&log).unwrap();
        let lines: Vec<serde_json::Value> = text
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        assert_eq!(lines.len(), 2);
        assert_eq!(lines[0]["reason"], "beat already down");
        assert_eq!(lines[1]["outcome"], "applied");
    }
}
