//! The platform lock: a writer-preferring read/write lock made of two `flock(2)` files in
//! `[platform] lock_dir`, shared with the bridge (contrib/sample-platform/ciq_bridge.py
//! implements the same protocol in Python).
//!
//! - exclusive (a cron run under `ciq cron-guard`, the bridge's `maintain`):
//!   `gate` EX, `run` EX, release `gate`, work, release `run`.
//! - shared (each of the bridge's `start-test`): `gate` SH, `run` SH, release `gate`,
//!   hold `run` SH for the whole start.
//!
//! A waiting exclusive holder owns `gate`, so new starts queue behind it (no writer
//! starvation). flock locks die with their process, so a killed holder never strands them.

use crate::sys::lock::lock_until;
pub use crate::sys::lock::Kind;
use std::fs::{File, OpenOptions};
use std::os::fd::{AsRawFd, RawFd};
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;
use std::time::{Duration, Instant};

/// A held lock; dropping it releases it.
#[derive(Debug)]
pub struct Held {
    run: File,
}

impl Held {
    /// The descriptor that carries the lock (a child that inherits it keeps it held).
    pub fn run_fd(&self) -> RawFd {
        self.run.as_raw_fd()
    }
}

fn open(dir: &Path, name: &str) -> std::io::Result<File> {
    std::fs::create_dir_all(dir)?;
    OpenOptions::new()
        .create(true)
        .truncate(false)
        .read(true)
        .write(true)
        .mode(0o664)
        .open(dir.join(name))
}

/// Takes the lock, waiting at most `wait` (forever with `None`); `Ok(None)` on timeout.
pub fn acquire(dir: &Path, kind: Kind, wait: Option<Duration>) -> std::io::Result<Option<Held>> {
    let deadline = wait.map(|w| Instant::now() + w);
    let gate = open(dir, "gate.lock")?;
    if !lock_until(&gate, kind, deadline)? {
        return Ok(None);
    }
    let run = open(dir, "run.lock")?;
    if !lock_until(&run, kind, deadline)? {
        return Ok(None);
    }
    drop(gate);
    Ok(Some(Held { run }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shared_holders_coexist_and_exclude_an_exclusive_one() {
        let d = tempfile::tempdir().unwrap();
        let short = Some(Duration::from_millis(100));
        let a = acquire(d.path(), Kind::Shared, short).unwrap().unwrap();
        let b = acquire(d.path(), Kind::Shared, short).unwrap().unwrap();
        assert!(acquire(d.path(), Kind::Exclusive, short).unwrap().is_none());
        drop((a, b));
        let x = acquire(d.path(), Kind::Exclusive, short).unwrap().unwrap();
        assert!(acquire(d.path(), Kind::Shared, short).unwrap().is_none());
        drop(x);
        assert!(acquire(d.path(), Kind::Shared, short).unwrap().is_some());
    }

    #[test]
    fn a_waiting_exclusive_holder_blocks_new_shared_ones() {
        let d = tempfile::tempdir().unwrap();
        let dir = d.path().to_path_buf();
        let reader = acquire(&dir, Kind::Shared, None).unwrap().unwrap();
        let dir2 = dir.clone();
        let writer = std::thread::spawn(move || {
            acquire(&dir2, Kind::Exclusive, Some(Duration::from_secs(5)))
                .unwrap()
                .is_some()
        });
        std::thread::sleep(Duration::from_millis(300));
        // The writer holds the gate while it waits: a new reader cannot slip in.
        assert!(
            acquire(&dir, Kind::Shared, Some(Duration::from_millis(200)))
                .unwrap()
                .is_none()
        );
        drop(reader);
        assert!(writer.join().unwrap());
    }
}
