//! The platform lock held from the test's side.

use super::*;

/// The bridge's read/write platform lock held by the test (the same flock protocol as
/// ciq_bridge.py and `ciq cron-guard`); released on drop.
pub struct PlatformLock {
    _gate: std::fs::File,
    _run: std::fs::File,
}

impl RealPlatform {
    /// Holds the platform lock exclusively, as `ciq cron-guard` does around a cron run.
    pub fn lock_exclusive(&self) -> PlatformLock {
        self.lock(libc::LOCK_EX)
    }

    /// Holds the platform lock shared, as a start does.
    pub fn lock_shared(&self) -> PlatformLock {
        self.lock(libc::LOCK_SH)
    }

    fn lock(&self, op: i32) -> PlatformLock {
        use std::os::unix::io::AsRawFd;
        std::fs::create_dir_all(&self.lock_dir).unwrap();
        let open = |n: &str| {
            std::fs::OpenOptions::new()
                .create(true)
                .truncate(false)
                .write(true)
                .open(self.lock_dir.join(n))
                .unwrap()
        };
        let (gate, run) = (open("gate.lock"), open("run.lock"));
        unsafe {
            libc::flock(gate.as_raw_fd(), op);
            libc::flock(run.as_raw_fd(), op);
            libc::flock(gate.as_raw_fd(), libc::LOCK_UN);
        }
        PlatformLock {
            _gate: gate,
            _run: run,
        }
    }
}
