//! Child processes of a test: killed when dropped, and stopped as an operator stops them
//! (SIGTERM, then wait, then kill if it is still running).

use std::process::{Child, ExitStatus};
use std::time::{Duration, Instant};

/// A child process that is killed when dropped, so a failing test leaks no worker.
pub struct Proc(pub Child);

impl std::ops::Deref for Proc {
    type Target = Child;
    fn deref(&self) -> &Child {
        &self.0
    }
}

impl std::ops::DerefMut for Proc {
    fn deref_mut(&mut self) -> &mut Child {
        &mut self.0
    }
}

impl Proc {
    /// Stops it as an operator does: SIGTERM, then waits up to `timeout` for it to exit.
    /// Its exit status, or None when it was still running at the timeout (it is then
    /// killed, so a hung process never outlives the check).
    pub fn stop(&mut self, timeout: Duration) -> Option<ExitStatus> {
        sigterm(&self.0);
        self.wait_or_kill(timeout)
    }

    /// Waits up to `timeout` for it to exit; kills it past that (then None).
    pub fn wait_or_kill(&mut self, timeout: Duration) -> Option<ExitStatus> {
        let status = wait_exit(&mut self.0, timeout);
        if status.is_none() {
            sigkill(&mut self.0);
        }
        status
    }
}

/// Stops several processes at once: SIGTERM to all, then waits for each (each up to
/// `timeout`, killed past it); their exit statuses in order, as `Proc::stop` gives them.
pub fn stop_all<'a>(
    procs: impl IntoIterator<Item = &'a mut Proc>,
    timeout: Duration,
) -> Vec<Option<ExitStatus>> {
    let procs: Vec<&mut Proc> = procs.into_iter().collect();
    for p in &procs {
        sigterm(&p.0);
    }
    procs.into_iter().map(|p| p.wait_or_kill(timeout)).collect()
}

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

pub fn sigterm(child: &Child) {
    unsafe {
        libc::kill(child.id() as i32, libc::SIGTERM);
    }
}

pub fn sigkill(child: &mut Child) {
    let _ = child.kill();
    let _ = child.wait();
}

/// Waits for a child to exit within the timeout; returns its status.
pub fn wait_exit(child: &mut Child, timeout: Duration) -> Option<ExitStatus> {
    let deadline = Instant::now() + timeout;
    while Instant::now() < deadline {
        if let Ok(Some(s)) = child.try_wait() {
            return Some(s);
        }
        std::thread::sleep(Duration::from_millis(25));
    }
    None
}
