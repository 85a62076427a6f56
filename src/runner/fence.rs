//! Fencing a run: a worker that can no longer vouch for a run's lease stops the run
//! before Redis can consider the lease expired, so the task never runs in two places.
//!
//! The worker owns the clock: it renews each run's lease and moves the run's
//! [`FenceState`] forward; once it cannot (Redis cut off, the run superseded), it sets
//! `stop`. An `exec` run then gets SIGTERM for its process group, and SIGKILL at
//! `kill_at`.
//!
//! That alone fails when the worker itself cannot act: SIGSTOPped, or killed with
//! `kill -9`. So an `exec` run is started under a supervisor, `ciq __fence -- ARGV…`, a
//! small process of its own (in the run's process group) that the worker feeds with the
//! same deadlines over a pipe (one line `STOP_MS KILL_MS`: milliseconds from now). If the
//! lines stop coming, the supervisor signals the group itself at those deadlines; if the
//! pipe closes (the worker died), it stops the group at once. It passes the program's exit
//! status on unchanged, so classification is the same with or without it.

use std::ffi::OsString;
use std::io::{BufRead, Write};
use std::path::PathBuf;
use std::sync::mpsc;
use std::sync::OnceLock;
use std::time::{Duration, Instant};
use tokio::sync::watch;

/// Where a worker stands with one run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FenceState {
    /// Stop now: SIGTERM the process group (the run's outcome will not be used).
    pub stop: bool,
    /// When the run must be stopped if the lease is not renewed before then.
    pub stop_at: Instant,
    /// When the run must be gone: SIGKILL for its process group.
    pub kill_at: Instant,
}

/// The runner's view of a run's fence (the worker holds the sender).
pub type Fence = watch::Receiver<FenceState>;

/// The fraction of the lease after the last renewal at which a run is stopped (SIGTERM)
/// and killed (SIGKILL), measured on the worker's monotonic clock from the moment the
/// renewal (or claim) was sent. Redis expires the lease no earlier than a full lease
/// after it received that command, so the run is gone with a tenth of the lease to spare:
/// enough for a worker clock running up to 5 % slow against Redis's and 5 % (1 s of a
/// 20 s lease) for the kill to take effect.
pub const STOP_AT: f64 = 0.80;
pub const KILL_AT: f64 = 0.90;

/// The deadlines for a run whose lease was last renewed by a command sent at `renewed`.
pub fn deadlines(renewed: Instant, lease: Duration) -> (Instant, Instant) {
    (
        renewed + lease.mul_f64(STOP_AT),
        renewed + lease.mul_f64(KILL_AT),
    )
}

/// Resolves once the worker says stop (or drops the fence: the run is abandoned).
pub async fn stopped(fence: &mut Fence) {
    let _ = fence.wait_for(|s| s.stop).await;
}

static SUPERVISOR: OnceLock<PathBuf> = OnceLock::new();

/// Runs `exec` tasks under `program __fence` (the `ciq` binary itself). Called once by
/// the CLI; without it (the library's own tests) runs are started directly and only the
/// worker fences them.
pub fn use_supervisor(program: PathBuf) {
    let _ = SUPERVISOR.set(program);
}

pub(crate) fn supervisor() -> Option<&'static PathBuf> {
    SUPERVISOR.get().filter(|p| p.exists())
}

/// The argument the supervisor is started with.
pub const SUPERVISE_ARG: &str = "__fence";
/// Exit status of the supervisor when it could not start the program.
pub const EXIT_CANNOT_START: i32 = 127;
/// The line the supervisor prints (on stderr) when the program cannot start.
pub const CANNOT_START: &str = "ciq: cannot start ";

/// A deadline line for the supervisor: milliseconds from now until stop and kill.
pub(crate) fn line(s: &FenceState) -> String {
    let (stop, kill) = remaining(s);
    format!("{stop} {kill}\n")
}

/// Milliseconds from now until stop (0 once told to stop) and kill.
fn remaining(s: &FenceState) -> (u64, u64) {
    let now = Instant::now();
    let ms = |t: Instant| t.saturating_duration_since(now).as_millis() as u64;
    (if s.stop { 0 } else { ms(s.stop_at) }, ms(s.kill_at))
}

enum Event {
    Deadlines(Duration, Duration),
    WorkerGone,
    Exited(std::process::ExitStatus),
}

/// How often the supervisor looks at its deadlines and messages.
const POLL: Duration = Duration::from_millis(20);

/// How long the group gets between SIGTERM and SIGKILL when the worker is gone.
const GONE_GRACE: Duration = Duration::from_secs(2);

/// The supervisor's arguments before the program's: the deadlines as at its start, so
/// a worker stopped before it sends its first line still has the run stopped in time.
pub(crate) fn args(s: &FenceState) -> Vec<String> {
    let (stop, kill) = remaining(s);
    vec![
        SUPERVISE_ARG.into(),
        stop.to_string(),
        kill.to_string(),
        "--".into(),
    ]
}

/// `ciq __fence STOP_MS KILL_MS -- ARGV…`: runs ARGV in this process group and enforces
/// the worker's deadlines (those given, then each line read from stdin). Returns the exit
/// code for a normal exit; a program killed by a signal makes this process die by the
/// same signal.
pub fn supervise(argv: &[OsString]) -> i32 {
    let ms = |a: Option<&OsString>| {
        a.and_then(|a| a.to_str())
            .and_then(|a| a.parse::<u64>().ok())
            .map(Duration::from_millis)
    };
    let (first_stop, first_kill) = (ms(argv.first()), ms(argv.get(1)));
    let Some(sep) = argv.iter().position(|a| a == "--") else {
        eprintln!("ciq __fence: usage: ciq __fence STOP_MS KILL_MS -- PROGRAM [ARGS…]");
        return 2;
    };
    let argv: Vec<&OsString> = argv[sep + 1..].iter().collect();
    let Some(prog) = argv.first() else {
        eprintln!("ciq __fence: no program given");
        return 2;
    };
    // Signals go to our own process group: make sure it is ours (a worker already starts
    // us as a group leader; by hand, this keeps them away from the caller's shell).
    // SAFETY: setpgid(2) on this process; fails harmlessly if we lead a session.
    unsafe {
        libc::setpgid(0, 0);
    }
    // The group's SIGTERM (a soft time limit, or our own stop) is for the program: this
    // process catches it (doing nothing) and waits to pass the program's status on. A
    // caught signal is reset to its default in the program at exec, so it gets SIGTERM
    // as if it ran alone (a blocked or ignored one would stay so).
    ignore_sigterm_here();
    let mut child = match std::process::Command::new(prog)
        .args(&argv[1..])
        .stdin(std::process::Stdio::piped())
        .spawn()
    {
        Ok(c) => c,
        Err(e) => {
            eprintln!("{CANNOT_START}{:?}: {e}", prog.to_string_lossy());
            return EXIT_CANNOT_START;
        }
    };
    if let Some(mut stdin) = child.stdin.take() {
        let args = std::env::var("CIQ_ARGS").unwrap_or_default();
        std::thread::spawn(move || {
            let _ = stdin.write_all(args.as_bytes());
        });
    }
    let (tx, rx) = mpsc::channel();
    let from_worker = tx.clone();
    std::thread::spawn(move || {
        let stdin = std::io::stdin();
        for l in stdin.lock().lines() {
            let Ok(l) = l else { break };
            let mut it = l.split_whitespace().map(|v| v.parse::<u64>());
            if let (Some(Ok(s)), Some(Ok(k))) = (it.next(), it.next()) {
                let ev = Event::Deadlines(Duration::from_millis(s), Duration::from_millis(k));
                if from_worker.send(ev).is_err() {
                    return;
                }
            }
        }
        let _ = from_worker.send(Event::WorkerGone);
    });
    std::thread::spawn(move || {
        // Only this thread waits; the main loop never touches `child` again.
        if let Ok(st) = child.wait() {
            let _ = tx.send(Event::Exited(st));
        }
    });
    let started = Instant::now();
    let mut stop_at: Option<Instant> = first_stop.map(|d| started + d);
    let mut kill_at: Option<Instant> = first_kill.map(|d| started + d);
    let mut termed = false;
    loop {
        let now = Instant::now();
        if kill_at.is_some_and(|k| now >= k) {
            signal_group(libc::SIGKILL);
        }
        if !termed && stop_at.is_some_and(|s| now >= s) {
            termed = true;
            signal_group(libc::SIGTERM);
        }
        let next = match (termed, stop_at, kill_at) {
            (false, Some(s), Some(k)) => Some(s.min(k)),
            (_, _, Some(k)) => Some(k),
            _ => None,
        };
        // Polled with short relative sleeps rather than a timed wait on an absolute
        // deadline: a timed wait trusts the clock it was computed from, and a process
        // with a faked or stepped clock (libfaketime in the tests, a VM resuming) would
        // sleep through its deadline.
        let ev = match rx.try_recv() {
            Ok(e) => e,
            Err(mpsc::TryRecvError::Empty) => {
                let nap = next.map_or(POLL, |t| t.saturating_duration_since(now).min(POLL));
                std::thread::sleep(nap.max(Duration::from_millis(1)));
                continue;
            }
            Err(mpsc::TryRecvError::Disconnected) => return 1,
        };
        match ev {
            Event::Deadlines(s, k) => {
                let now = Instant::now();
                stop_at = Some(now + s);
                kill_at = Some(now + k);
            }
            Event::WorkerGone => {
                // Nobody can record this run's outcome any more: stop it now.
                let now = Instant::now();
                stop_at = Some(now);
                kill_at = Some(kill_at.map_or(now + GONE_GRACE, |k| k.min(now + GONE_GRACE)));
            }
            Event::Exited(st) => return pass_on(st),
        }
    }
}

extern "C" fn on_sigterm(_: libc::c_int) {}

fn ignore_sigterm_here() {
    // SAFETY: installs an async-signal-safe no-op handler (SA_RESTART: reads and waits
    // resume) in this single-purpose process.
    unsafe {
        let mut sa: libc::sigaction = std::mem::zeroed();
        sa.sa_sigaction = on_sigterm as *const () as libc::sighandler_t;
        sa.sa_flags = libc::SA_RESTART;
        libc::sigemptyset(&mut sa.sa_mask);
        libc::sigaction(libc::SIGTERM, &sa, std::ptr::null_mut());
    }
}

/// Signals this process group (the program and whatever it started; SIGTERM is blocked
/// here, SIGKILL ends this process too, which is what the worker reads as "killed").
fn signal_group(sig: i32) {
    crate::sys::process_group::signal_own(sig);
}

/// Ends this process the way the program ended.
fn pass_on(st: std::process::ExitStatus) -> i32 {
    use std::os::unix::process::ExitStatusExt;
    if let Some(code) = st.code() {
        return code;
    }
    let sig = st.signal().unwrap_or(libc::SIGKILL);
    // SAFETY: resetting a disposition and raising a signal in this single-purpose process.
    unsafe {
        libc::signal(sig, libc::SIG_DFL);
        libc::raise(sig);
    }
    128 + sig
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deadlines_leave_a_tenth_of_the_lease_before_redis_can_expire_it() {
        let t = Instant::now();
        let (stop, kill) = deadlines(t, Duration::from_secs(20));
        assert_eq!(stop - t, Duration::from_secs(16));
        assert_eq!(kill - t, Duration::from_secs(18));
    }

    #[test]
    fn a_stop_line_asks_for_sigterm_now() {
        let now = Instant::now();
        let s = FenceState {
            stop: true,
            stop_at: now + Duration::from_secs(5),
            kill_at: now + Duration::from_secs(9),
        };
        let l = line(&s);
        let (a, b) = l.trim().split_once(' ').unwrap();
        assert_eq!(a, "0");
        assert!((8000..=9000).contains(&b.parse::<u64>().unwrap()), "{l}");
    }
}
