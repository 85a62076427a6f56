//! The platform's cron entry: `*/10` (stages 0–1), `*/30` (stage 2), commented out with a
//! ciq marker (stage 3). Only the minute field or the marker changes; every other line
//! and byte stays. The entry lives in a user crontab (`crontab -l` / `crontab FILE`) or
//! in a file such as /etc/cron.d/sample-platform.

use super::text::lines;
use super::{fsutil, proc, Error};
use crate::config::rollout::CrontabTarget;
use serde::Serialize;
use std::path::{Path, PathBuf};

/// Put in front of the entry to switch it off; removing it restores the line exactly.
pub const DISABLED_MARKER: &str = "#ciq-disabled# ";

/// What the cron entry does now.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case", tag = "kind", content = "detail")]
pub enum CronState {
    Every10,
    Every30,
    Disabled,
    /// Present with another schedule (the minute field or an @keyword).
    Other(String),
    Missing,
    /// More than one line runs the job: ciq will not guess which to edit.
    Several(usize),
}

impl CronState {
    pub fn describe(&self) -> String {
        match self {
            CronState::Every10 => "every 10 minutes (*/10)".into(),
            CronState::Every30 => "every 30 minutes (*/30)".into(),
            CronState::Disabled => "commented out by ciq".into(),
            CronState::Other(m) => format!("another schedule ({m})"),
            CronState::Missing => "missing".into(),
            CronState::Several(n) => format!("{n} lines run it"),
        }
    }
}

/// The schedules ciq sets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CronTarget {
    Every10,
    Every30,
    Disabled,
}

impl CronTarget {
    pub fn state(self) -> CronState {
        match self {
            CronTarget::Every10 => CronState::Every10,
            CronTarget::Every30 => CronState::Every30,
            CronTarget::Disabled => CronState::Disabled,
        }
    }
}

struct Entry {
    line: usize,
    disabled: bool,
}

fn entries(text: &str, pattern: &str) -> Vec<Entry> {
    let mut out = vec![];
    for (n, l) in lines(text).iter().enumerate() {
        if !l.body.contains(pattern) {
            continue;
        }
        if l.body.starts_with(DISABLED_MARKER) {
            out.push(Entry {
                line: n,
                disabled: true,
            });
            continue;
        }
        let first = l.body.split_whitespace().next().unwrap_or("");
        if first.starts_with('#') || first.contains('=') {
            continue;
        }
        out.push(Entry {
            line: n,
            disabled: false,
        });
    }
    out
}

/// (start, end) of the minute field (or @keyword) in an active line.
fn minute_span(body: &str) -> Option<(usize, usize)> {
    let start = body.len() - body.trim_start().len();
    let len = body[start..].find(char::is_whitespace)?;
    Some((start, start + len))
}

pub fn read(text: &str, pattern: &str) -> CronState {
    let found = entries(text, pattern);
    match found.as_slice() {
        [] => CronState::Missing,
        [e] if e.disabled => CronState::Disabled,
        [e] => {
            let all = lines(text);
            let body = all[e.line].body;
            match minute_span(body).map(|(s, t)| &body[s..t]) {
                Some("*/10") => CronState::Every10,
                Some("*/30") => CronState::Every30,
                Some(m) => CronState::Other(m.to_string()),
                None => CronState::Other(body.trim().to_string()),
            }
        }
        many => CronState::Several(many.len()),
    }
}

/// The crontab text with the entry set to `target`; the same text when it already is.
pub fn set(text: &str, pattern: &str, target: CronTarget) -> Result<String, String> {
    let found = entries(text, pattern);
    let entry = match found.as_slice() {
        [] => return Err(format!("no cron line runs {pattern}; restore it first")),
        [e] => e,
        many => {
            return Err(format!(
                "{} cron lines run {pattern}; keep one and retry",
                many.len()
            ))
        }
    };
    let all = lines(text);
    let body = all[entry.line].body;
    let active = if entry.disabled {
        &body[DISABLED_MARKER.len()..]
    } else {
        body
    };
    let new_body = match target {
        CronTarget::Disabled if entry.disabled => body.to_string(),
        CronTarget::Disabled => format!("{DISABLED_MARKER}{active}"),
        CronTarget::Every10 | CronTarget::Every30 => {
            let minute = if target == CronTarget::Every10 {
                "*/10"
            } else {
                "*/30"
            };
            let (s, e) = minute_span(active)
                .filter(|(s, _)| !active[*s..].starts_with('@'))
                .ok_or_else(|| {
                    format!("cannot read the schedule of {active:?}; edit it by hand")
                })?;
            format!("{}{minute}{}", &active[..s], &active[e..])
        }
    };
    Ok(all
        .iter()
        .enumerate()
        .map(|(n, l)| {
            let b = if n == entry.line {
                new_body.as_str()
            } else {
                l.body
            };
            format!("{b}{}", l.end)
        })
        .collect())
}

/// Reads and writes the crontab that holds the entry.
pub struct Crontab<'a> {
    pub target: &'a CrontabTarget,
    pub program: &'a str,
}

impl Crontab<'_> {
    fn user_args<'b>(&'b self, rest: &[&'b str]) -> Vec<&'b str> {
        let mut a = vec![];
        if let CrontabTarget::User(Some(u)) = self.target {
            a.extend(["-u", u.as_str()]);
        }
        a.extend_from_slice(rest);
        a
    }

    /// Where it lives, for plans and messages.
    pub fn label(&self) -> String {
        match self.target {
            CrontabTarget::User(None) => "user crontab".into(),
            CrontabTarget::User(Some(u)) => format!("crontab of {u}"),
            CrontabTarget::File(p) => p.display().to_string(),
        }
    }

    pub fn read(&self) -> Result<String, Error> {
        match self.target {
            CrontabTarget::File(p) => {
                let bytes = fsutil::read_opt(p)?.ok_or_else(|| Error::Unreadable {
                    what: p.display().to_string(),
                    msg: "no such file".into(),
                })?;
                utf8(p.display().to_string(), bytes)
            }
            CrontabTarget::User(_) => {
                let ran = proc::run(self.program, &self.user_args(&["-l"]), proc::CALL_TIMEOUT)?;
                if !ran.ok && ran.stderr.to_ascii_lowercase().contains("no crontab") {
                    return Ok(String::new());
                }
                Ok(ran.check(&format!("{} -l", self.program))?.stdout)
            }
        }
    }

    /// Backs up the current text, then installs `text`. Returns the backup's path.
    pub fn write(&self, old: &str, text: &str, backup_dir: &Path) -> Result<PathBuf, Error> {
        match self.target {
            CrontabTarget::File(p) => {
                let b = fsutil::backup_bytes(backup_dir, &file_name(p), old.as_bytes())?;
                fsutil::atomic_write(p, text.as_bytes(), 0o644)?;
                Ok(b)
            }
            CrontabTarget::User(u) => {
                let name = format!("crontab-{}", u.as_deref().unwrap_or("user"));
                let b = fsutil::backup_bytes(backup_dir, &name, old.as_bytes())?;
                let tmp = fsutil::private_temp("ciq-crontab", text.as_bytes())?;
                let path = tmp.to_string_lossy().to_string();
                let ran = proc::run(self.program, &self.user_args(&[&path]), proc::CALL_TIMEOUT);
                let _ = std::fs::remove_file(&tmp);
                ran?.check(&format!("{} FILE", self.program))?;
                Ok(b)
            }
        }
    }
}

fn file_name(p: &Path) -> String {
    p.file_name()
        .map(|n| n.to_string_lossy().to_string())
        .unwrap_or_else(|| "crontab".into())
}

pub fn utf8(what: String, bytes: Vec<u8>) -> Result<String, Error> {
    String::from_utf8(bytes).map_err(|_| Error::Unreadable {
        what,
        msg: "not UTF-8 text; ciq will not edit it".into(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const P: &str = "mod_ci/cron.py";

    #[test]
    fn schedules_round_trip_byte_for_byte() {
        let t = "MAILTO=ops\r\n# */10 * * * * old mod_ci/cron.py\r\n*/10  * * * * www-data cd /var/www && python mod_ci/cron.py >> /var/log/ci.log 2>&1\r\n0 3 * * * www-data other";
        assert_eq!(read(t, P), CronState::Every10);
        let s2 = set(t, P, CronTarget::Every30).unwrap();
        assert_eq!(s2, t.replace("*/10  * * * * www", "*/30  * * * * www"));
        assert_eq!(read(&s2, P), CronState::Every30);
        let s3 = set(&s2, P, CronTarget::Disabled).unwrap();
        assert_eq!(read(&s3, P), CronState::Disabled);
        assert_eq!(set(&s3, P, CronTarget::Disabled).unwrap(), s3);
        assert_eq!(set(&s3, P, CronTarget::Every10).unwrap(), t);
    }

    #[test]
    fn odd_entries_are_reported_not_guessed() {
        assert_eq!(read("", P), CronState::Missing);
        assert_eq!(
            read("@hourly mod_ci/cron.py\n", P),
            CronState::Other("@hourly".into())
        );
        assert!(set("@hourly mod_ci/cron.py\n", P, CronTarget::Every10).is_err());
        let two = "*/10 * * * * mod_ci/cron.py\n*/10 * * * * mod_ci/cron.py\n";
        assert_eq!(read(two, P), CronState::Several(2));
        assert!(set(two, P, CronTarget::Every30).is_err());
    }
}
