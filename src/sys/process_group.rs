//! Signals to a whole process group: a program and whatever it started. The one place
//! that calls `kill(2)` on a group.

/// Sends `sig` to process group `pgid`; a group that is gone already is no error.
pub fn signal(pgid: i32, sig: i32) {
    // SAFETY: kill(2) with a negative pid signals that process group; no memory is
    // involved and a vanished group just returns ESRCH.
    unsafe {
        libc::kill(-pgid, sig);
    }
}

/// Sends `sig` to the caller's own process group (the caller too, unless it blocks `sig`).
pub fn signal_own(sig: i32) {
    // SAFETY: kill(2) on our own process group; no memory is involved.
    unsafe {
        libc::kill(0, sig);
    }
}
