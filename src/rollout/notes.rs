//! What ciq keeps in its state directory: markers that make a rerun finish a follow-up
//! step (a platform restart, a daemon-reload) after a failure, and a note of the last
//! stage reached. The stage itself is always read from the machine; the note only adds
//! who got there and when.

use crate::sys::files::{self, FsError};
use serde::{Deserialize, Serialize};
use std::path::Path;

/// The platform must be restarted because the flag changed after its last restart.
pub const RESTART_PENDING: &str = "platform-restart-pending";
/// Unit files changed since the last `systemctl daemon-reload`.
pub const RELOAD_PENDING: &str = "daemon-reload-pending";

pub fn has_marker(state_dir: &Path, name: &str) -> bool {
    state_dir.join(name).exists()
}

pub fn set_marker(state_dir: &Path, name: &str) -> Result<(), FsError> {
    std::fs::create_dir_all(state_dir).map_err(|err| FsError::Io {
        path: state_dir.display().to_string(),
        op: "create state directory",
        err,
    })?;
    files::atomic_write(&state_dir.join(name), files::stamp().as_bytes(), 0o644)
}

pub fn clear_marker(state_dir: &Path, name: &str) -> Result<(), FsError> {
    let p = state_dir.join(name);
    match std::fs::remove_file(&p) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(err) => Err(FsError::Io {
            path: p.display().to_string(),
            op: "remove marker",
            err,
        }),
    }
}

/// The last stage a ciq command completed.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct StageNote {
    pub stage: u8,
    pub at: String,
    pub by: String,
}

const NOTE: &str = "stage.json";

pub fn read_note(state_dir: &Path) -> Option<StageNote> {
    let bytes = std::fs::read(state_dir.join(NOTE)).ok()?;
    serde_json::from_slice(&bytes).ok()
}

pub fn write_note(state_dir: &Path, note: &StageNote) -> Result<(), FsError> {
    std::fs::create_dir_all(state_dir).map_err(|err| FsError::Io {
        path: state_dir.display().to_string(),
        op: "create state directory",
        err,
    })?;
    let text = serde_json::to_string(note).unwrap_or_default();
    files::atomic_write(&state_dir.join(NOTE), text.as_bytes(), 0o644)
}
