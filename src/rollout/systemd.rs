//! systemd through `systemctl`: the ciq unit files shipped in `install/`, and
//! start/stop/enable/disable/restart of units. `systemctl stop ciq-worker` sends SIGTERM,
//! so the worker finishes or returns its in-flight tasks before it exits.

use super::{proc, Error};
use serde::Serialize;

pub const WORKER_UNIT_FILE: &str = include_str!("../../install/ciq-worker.service");
pub const BEAT_UNIT_FILE: &str = include_str!("../../install/ciq-beat.service");

/// A unit as systemd reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct UnitState {
    pub active: bool,
    pub enabled: bool,
}

pub struct Systemctl<'a> {
    pub program: &'a str,
}

impl Systemctl<'_> {
    fn query(&self, verb: &str, unit: &str) -> Result<bool, Error> {
        Ok(proc::run(self.program, &[verb, "--quiet", unit], proc::CALL_TIMEOUT)?.ok)
    }

    pub fn state(&self, unit: &str) -> Result<UnitState, Error> {
        Ok(UnitState {
            active: self.query("is-active", unit)?,
            enabled: self.query("is-enabled", unit)?,
        })
    }

    pub fn is_active(&self, unit: &str) -> Result<bool, Error> {
        self.query("is-active", unit)
    }

    /// Runs `systemctl VERB [UNIT]`; fails with systemctl's own message.
    pub fn call(&self, verb: &str, unit: Option<&str>) -> Result<(), Error> {
        let mut args = vec![verb];
        args.extend(unit);
        proc::run(self.program, &args, proc::CALL_TIMEOUT)?.check(&format!(
            "{} {}",
            self.program,
            args.join(" ")
        ))?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shipped_units_stop_gracefully() {
        for (u, cmd) in [(WORKER_UNIT_FILE, " work\n"), (BEAT_UNIT_FILE, " beat\n")] {
            assert!(u.contains("KillSignal=SIGTERM"));
            assert!(u.contains("Restart=on-failure"));
            assert!(u
                .lines()
                .any(|l| l.starts_with("ExecStart=") && l.ends_with(cmd.trim_end())));
        }
        let stop: u64 = WORKER_UNIT_FILE
            .lines()
            .find_map(|l| l.strip_prefix("TimeoutStopSec="))
            .and_then(|v| v.parse().ok())
            .unwrap();
        assert!(
            stop > crate::config::WorkerConfig::default()
                .shutdown_timeout
                .0
                .as_secs()
        );
    }
}
