//! Stopping the worker unit without cutting a platform start in half, and saying what
//! the stop waits for while it does.
//!
//! `systemctl stop` sends the worker one SIGTERM: it lets running tasks finish for its
//! shutdown timeout and platform starts for up to their own bound (ten minutes). While
//! systemctl waits, the watcher is asked what the stopping worker waits for (its
//! heartbeat publishes it) and every change is said. A cut — `--force`, or the operator
//! asking for it (a second Ctrl-C) — is a second SIGTERM to the worker's main process,
//! which hands what it still runs back to the queue.

use super::systemd::Systemctl;
use super::Error;
use std::time::{Duration, Instant};

/// What the CLI gives a worker stop: a view of what the worker waits for, a place to
/// say things, and the operator's wish to cut.
pub trait StopWatch {
    /// What the stopping worker(s) wait for now, one line each (empty: nothing, or the
    /// worker has not begun to stop); `None` when it cannot be known (Redis unreachable).
    fn waiting_for(&mut self) -> Option<Vec<String>>;
    /// One line for the operator.
    fn say(&mut self, line: &str);
    /// Whether the operator asked (just now or before) to cut what the worker waits for.
    fn cut_requested(&mut self) -> bool;
    /// The stop has ended (the watcher may let go of Ctrl-C and its connection).
    fn done(&mut self) {}
}

/// A watcher that knows nothing and never cuts (a stop outside the CLI's view).
pub struct Blind;

impl StopWatch for Blind {
    fn waiting_for(&mut self) -> Option<Vec<String>> {
        None
    }
    fn say(&mut self, _: &str) {}
    fn cut_requested(&mut self) -> bool {
        false
    }
}

/// How often what the worker waits for is read.
const POLL: Duration = Duration::from_secs(1);
/// A wait that has not changed is said again this often.
const REMIND: Duration = Duration::from_secs(15);
/// `--force` sends its second signal once the worker says it is stopping, or after this
/// long (two signals too close together may reach the worker as one).
const FORCE_AFTER: Duration = Duration::from_secs(2);

/// Stops `unit` (the worker) with `systemctl stop`, saying what it waits for; cuts it
/// when `force` is set or the watcher asks.
pub fn stop_worker(
    sc: &Systemctl,
    unit: &str,
    force: bool,
    w: &mut dyn StopWatch,
) -> Result<(), Error> {
    let began = Instant::now();
    let mut polled: Option<Instant> = None;
    let mut said: Option<(Instant, Option<Vec<String>>)> = None;
    let mut seen_stopping = false;
    let mut cut = false;
    let mut cut_error: Option<Error> = None;
    let res = sc.call_watched("stop", Some(unit), &mut || {
        let now = Instant::now();
        if polled.is_none_or(|t| now.duration_since(t) >= POLL) {
            polled = Some(now);
            let waiting = w.waiting_for();
            seen_stopping |= waiting.as_ref().is_some_and(|v| !v.is_empty());
            let repeat = match &said {
                None => true,
                Some((at, last)) => *last != waiting || now.duration_since(*at) >= REMIND,
            };
            if repeat && now.duration_since(began) >= Duration::from_millis(500) {
                match &waiting {
                    Some(v) if !v.is_empty() => {
                        for l in v {
                            w.say(&format!("{unit} is stopping: waiting for {l}"));
                        }
                        if !cut && !force {
                            w.say("  (a platform start is let finish; Ctrl-C twice, or `ciq rollback --force`, cuts it: the platform's orphan scan deletes the VM it made)");
                        }
                    }
                    Some(_) => w.say(&format!("{unit} is stopping")),
                    None => w.say(&format!(
                        "{unit} is stopping (what it waits for is not known: Redis does not answer; see its log: journalctl -u {unit})"
                    )),
                }
                said = Some((now, waiting));
            }
        }
        let wanted = w.cut_requested()
            || (force && (seen_stopping || now.duration_since(began) >= FORCE_AFTER));
        if wanted && !cut {
            cut = true;
            w.say(&format!(
                "cutting: a second SIGTERM to {unit} (what it still runs goes back to the queue)"
            ));
            if let Err(e) = sc.terminate_main(unit) {
                cut_error = Some(e);
            }
        }
    });
    w.done();
    match (res, cut_error) {
        (Err(e), _) => Err(e),
        // The unit may have ended just before the second signal: then it did not matter.
        (Ok(()), Some(e)) => {
            w.say(&format!("note: the second signal was not needed: {e}"));
            Ok(())
        }
        (Ok(()), None) => Ok(()),
    }
}
