//! One rollout command at a time: an exclusive `flock` on a file in the state directory,
//! released when the process exits (even if it is killed).

use super::Error;
use std::fs::File;
use std::path::Path;

/// Held while changes are made; dropping it releases the lock.
#[derive(Debug)]
pub struct Lock {
    _file: File,
}

pub fn acquire(state_dir: &Path) -> Result<Lock, Error> {
    let what = state_dir.join("lock").display().to_string();
    let io = |e: std::io::Error| Error::Unreadable {
        what: what.clone(),
        msg: e.to_string(),
    };
    std::fs::create_dir_all(state_dir).map_err(io)?;
    let file = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(state_dir.join("lock"))
        .map_err(io)?;
    if file.try_lock().is_err() {
        return Err(Error::Busy(format!(
            "another ciq migrate-from-cron or rollback is running (lock {what})"
        )));
    }
    Ok(Lock { _file: file })
}

#[cfg(test)]
mod tests {
    #[test]
    fn second_holder_is_refused() {
        let d = tempfile::tempdir().unwrap();
        let held = super::acquire(d.path()).unwrap();
        assert!(super::acquire(d.path()).is_err());
        drop(held);
        assert!(super::acquire(d.path()).is_ok());
    }
}
