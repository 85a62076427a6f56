//! Running a program (`systemctl`, `crontab`) with a time limit, capturing its output: a
//! hung program must not hang its caller (the rollback).

use std::io::Read;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};
use wait_timeout::ChildExt;

/// Longest any single program call may take; `systemctl stop` waits for the unit's own
/// TimeoutStopSec, so this stays above the worker's.
pub const CALL_TIMEOUT: Duration = Duration::from_secs(700);

/// How often `run_watched` calls its tick.
const TICK: Duration = Duration::from_millis(100);

/// A program that could not start, gave no answer in time, or failed: `cmd: msg`.
#[derive(Debug, thiserror::Error)]
#[error("{cmd}: {msg}")]
pub struct ProgramError {
    pub cmd: String,
    pub msg: String,
}

/// What a program call returned.
#[derive(Debug)]
pub struct Ran {
    pub ok: bool,
    pub code: Option<i32>,
    pub stdout: String,
    pub stderr: String,
}

impl Ran {
    /// `Err` with the program's own message unless it exited 0.
    pub fn check(self, what: &str) -> Result<Ran, ProgramError> {
        if self.ok {
            return Ok(self);
        }
        let msg = self.stderr.trim();
        let msg = if msg.is_empty() {
            self.stdout.trim()
        } else {
            msg
        };
        Err(ProgramError {
            cmd: what.to_string(),
            msg: format!(
                "exited with {}{}{}",
                self.code.map_or("a signal".to_string(), |c| c.to_string()),
                if msg.is_empty() { "" } else { ": " },
                msg
            ),
        })
    }
}

/// Runs `program args…` with stdin closed; fails if it cannot start or outlives `timeout`.
pub fn run(program: &str, args: &[&str], timeout: Duration) -> Result<Ran, ProgramError> {
    run_watched(program, args, timeout, &mut || {})
}

/// `run`, calling `tick` about every 100 ms while the program runs. The program gets its
/// own process group, so a Ctrl-C on the terminal reaches ciq (which decides what it
/// means) and not the program.
pub fn run_watched(
    program: &str,
    args: &[&str],
    timeout: Duration,
    tick: &mut dyn FnMut(),
) -> Result<Ran, ProgramError> {
    use std::os::unix::process::CommandExt;
    let what = format!("{program} {}", args.join(" "));
    let err = |msg: String| ProgramError {
        cmd: what.clone(),
        msg,
    };
    let mut child = Command::new(program)
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0)
        .spawn()
        .map_err(|e| err(format!("cannot start: {e}")))?;
    let out_t = read_all_aside(child.stdout.take());
    let err_t = read_all_aside(child.stderr.take());
    let deadline = Instant::now() + timeout;
    let mut next_tick = Instant::now() + TICK;
    let status = loop {
        if Instant::now() >= next_tick {
            tick();
            next_tick = Instant::now() + TICK;
        }
        // Blocks until the program exits or the next tick or the deadline is due.
        let wake = next_tick.min(deadline);
        match child.wait_timeout(wake.saturating_duration_since(Instant::now())) {
            Ok(Some(s)) => break s,
            Ok(None) if Instant::now() >= deadline => {
                let _ = child.kill();
                let _ = child.wait();
                return Err(err(format!(
                    "no answer within {}s; killed",
                    timeout.as_secs()
                )));
            }
            Ok(None) => {}
            Err(e) => return Err(err(format!("wait failed: {e}"))),
        }
    };
    Ok(Ran {
        ok: status.success(),
        code: status.code(),
        stdout: out_t.join().unwrap_or_default(),
        stderr: err_t.join().unwrap_or_default(),
    })
}

/// Reads a pipe to its end on a thread of its own (so a full stdout cannot block the
/// program while stderr is read, or the other way round).
fn read_all_aside<R: Read + Send + 'static>(pipe: Option<R>) -> std::thread::JoinHandle<String> {
    std::thread::spawn(move || {
        let mut s = String::new();
        if let Some(mut p) = pipe {
            let _ = p.read_to_string(&mut s);
        }
        s
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn captures_output_and_exit_code() {
        let ran = run(
            "sh",
            &["-c", "echo out; echo err >&2; exit 3"],
            CALL_TIMEOUT,
        )
        .unwrap();
        assert_eq!((ran.ok, ran.code), (false, Some(3)));
        assert_eq!(
            (ran.stdout.as_str(), ran.stderr.as_str()),
            ("out\n", "err\n")
        );
    }

    #[test]
    fn ticks_while_it_runs_and_kills_it_at_the_deadline() {
        let mut ticks = 0;
        let start = Instant::now();
        let e = run_watched("sleep", &["10"], Duration::from_millis(450), &mut || {
            ticks += 1
        })
        .unwrap_err();
        assert_eq!(e.to_string(), "sleep 10: no answer within 0s; killed");
        assert!(start.elapsed() < Duration::from_secs(5));
        assert!((3..=5).contains(&ticks), "{ticks} ticks");
    }
}
