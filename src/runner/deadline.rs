//! How an `exec` run's process is waited for: its soft deadline sends SIGTERM to its
//! whole process group, its hard deadline (or `TERM_GRACE` after SIGTERM when there is
//! none) SIGKILL, and so does a stop through its fence; dropping the group kills it.

use std::process::ExitStatus;
use std::time::{Duration, Instant};
use tokio::process::Child;
use tokio::time::sleep_until;

/// Time between SIGTERM and SIGKILL when the task has no hard limit.
const TERM_GRACE: Duration = Duration::from_secs(10);

/// The runner's process group; SIGKILLed on drop unless disarmed after a clean wait.
pub(super) struct Group(Option<i32>);

impl Group {
    /// The group of `child` (started with `process_group(0)`, so its pid is the group id).
    pub(super) fn of(child: &Child) -> Group {
        Group(child.id().and_then(|p| i32::try_from(p).ok()))
    }

    pub(super) fn signal(&self, sig: i32) {
        if let Some(pgid) = self.0 {
            crate::sys::process_group::signal(pgid, sig);
        }
    }

    pub(super) fn disarm(&mut self) {
        self.0 = None;
    }
}

impl Drop for Group {
    fn drop(&mut self) {
        self.signal(libc::SIGKILL);
    }
}

pub(super) enum Ended {
    Exited(ExitStatus),
    /// Exited after the soft deadline's SIGTERM.
    Terminated,
    /// Killed at the hard deadline.
    Killed,
    WaitFailed(std::io::Error),
}

pub(super) async fn wait(
    child: &mut Child,
    group: &Group,
    soft: Option<Instant>,
    hard: Option<Instant>,
    fence: Option<super::fence::Fence>,
) -> Ended {
    if let Some(mut f) = fence {
        // Whatever the time limits say, a stopped run gets SIGTERM now and SIGKILL at its
        // fence's kill time.
        let ended = tokio::select! {
            e = wait_limits(child, group, soft, hard) => Some(e),
            _ = super::fence::stopped(&mut f) => None,
        };
        if let Some(e) = ended {
            return e;
        }
        let kill_at = f.borrow().kill_at;
        return term_then_kill(child, group, kill_at).await;
    }
    wait_limits(child, group, soft, hard).await
}

/// SIGTERM for the group now; SIGKILL at `kill_at` if the process has not ended by then.
async fn term_then_kill(child: &mut Child, group: &Group, kill_at: Instant) -> Ended {
    group.signal(libc::SIGTERM);
    tokio::select! {
        r = child.wait() => return match r {
            Ok(_) => Ended::Terminated,
            Err(e) => Ended::WaitFailed(e),
        },
        _ = sleep_until(kill_at.into()) => {}
    }
    group.signal(libc::SIGKILL);
    let _ = child.wait().await;
    Ended::Killed
}

async fn wait_limits(
    child: &mut Child,
    group: &Group,
    soft: Option<Instant>,
    hard: Option<Instant>,
) -> Ended {
    let first = match (soft, hard) {
        (Some(s), Some(h)) => Some(s.min(h)),
        (s, h) => s.or(h),
    };
    if let Some(at) = first {
        tokio::select! {
            r = child.wait() => return r.map(Ended::Exited).unwrap_or_else(Ended::WaitFailed),
            _ = sleep_until(at.into()) => {}
        }
    } else {
        return child
            .wait()
            .await
            .map(Ended::Exited)
            .unwrap_or_else(Ended::WaitFailed);
    }
    let soft_first = match (soft, hard) {
        (Some(s), Some(h)) => s < h,
        (Some(_), None) => true,
        _ => false,
    };
    if soft_first {
        let kill_at = hard.unwrap_or_else(|| Instant::now() + TERM_GRACE);
        return term_then_kill(child, group, kill_at).await;
    }
    group.signal(libc::SIGKILL);
    let _ = child.wait().await;
    Ended::Killed
}
