//! File locks, shared or exclusive, waited for up to a deadline. They are std's
//! (`flock(2)` on Unix), so they die with their process and agree with any other
//! program that flocks the same file.

use std::fs::{File, TryLockError};
use std::time::{Duration, Instant};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Shared,
    Exclusive,
}

/// Takes a `kind` lock on `f`, trying every 50 ms until `deadline` (forever with `None`);
/// false when the deadline passed first.
pub fn lock_until(f: &File, kind: Kind, deadline: Option<Instant>) -> std::io::Result<bool> {
    loop {
        let tried = match kind {
            Kind::Shared => f.try_lock_shared(),
            Kind::Exclusive => f.try_lock(),
        };
        match tried {
            Ok(()) => return Ok(true),
            Err(TryLockError::Error(e)) => return Err(e),
            Err(TryLockError::WouldBlock) => {}
        }
        if deadline.is_some_and(|d| Instant::now() >= d) {
            return Ok(false);
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}
