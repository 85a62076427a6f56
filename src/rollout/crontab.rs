//! The platform's cron entry: the original `*/10` line (stage 0); the same line run
//! through `ciq cron-guard` (stages 1–2: the guard holds the platform lock for the cron
//! run, and in stage 2 skips it while the queue is healthy); commented out with a ciq
//! marker (stage 3). The command is wrapped as one single-quoted shell word, so
//! unwrapping gives back the original bytes; every other line and byte stays. The entry
//! lives in a user crontab (`crontab -l` / `crontab FILE`) or in a file such as
//! /etc/cron.d/sample-platform (which has a user field).

use super::Error;
use crate::config::rollout::CrontabTarget;
use crate::sys::lines::lines;
use crate::sys::{files, program};
use serde::Serialize;
use std::path::{Path, PathBuf};

/// Put in front of the entry to switch it off; removing it restores the line exactly.
pub const DISABLED_MARKER: &str = "#ciq-disabled# ";

/// What the cron entry does now.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case", tag = "kind", content = "detail")]
pub enum CronState {
    Every10,
    /// Every 10 minutes through `ciq cron-guard`.
    Guarded,
    /// The schedule of stage 2 before the guard existed.
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
            CronState::Guarded => "every 10 minutes through ciq cron-guard".into(),
            CronState::Every30 => "every 30 minutes (*/30)".into(),
            CronState::Disabled => "commented out by ciq".into(),
            CronState::Other(m) => format!("another schedule ({m})"),
            CronState::Missing => "missing".into(),
            CronState::Several(n) => format!("{n} lines run it"),
        }
    }
}

/// The schedules ciq sets.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum CronTarget {
    #[serde(rename = "*/10")]
    Every10,
    #[serde(rename = "*/10 through ciq cron-guard")]
    Guarded,
    #[serde(rename = "commented out")]
    Disabled,
}

impl CronTarget {
    pub fn word(self) -> &'static str {
        match self {
            CronTarget::Every10 => "*/10",
            CronTarget::Guarded => "*/10 through ciq cron-guard",
            CronTarget::Disabled => "commented out",
        }
    }

    pub fn state(self) -> CronState {
        match self {
            CronTarget::Every10 => CronState::Every10,
            CronTarget::Guarded => CronState::Guarded,
            CronTarget::Disabled => CronState::Disabled,
        }
    }
}

/// How the entry's line is laid out and what wraps it.
#[derive(Debug, Clone, Copy)]
pub struct LineFormat<'a> {
    /// The guard invocation up to and including `--`, e.g.
    /// `/usr/local/bin/ciq --config /etc/ciq/ciq.toml cron-guard --`.
    pub guard: &'a str,
    /// A system crontab (/etc/cron.d) has a user field after the five time fields.
    pub user_field: bool,
}

/// Where the quoted original command starts in a guarded line: after `cron-guard`, its
/// options and ` -- `. None when the line is not guarded.
fn guarded_word(line: &str) -> Option<usize> {
    let at = line.find(" cron-guard")?;
    let sep = line[at..].find(" -- '")?;
    Some(at + sep + 4)
}

/// Byte offset where the command starts (after the time fields and any user field).
fn command_start(body: &str, user_field: bool) -> Option<usize> {
    let mut i = 0;
    let b = body.as_bytes();
    for _ in 0..(if user_field { 6 } else { 5 }) {
        while i < b.len() && b[i].is_ascii_whitespace() {
            i += 1;
        }
        if i == b.len() {
            return None;
        }
        while i < b.len() && !b[i].is_ascii_whitespace() {
            i += 1;
        }
    }
    while i < b.len() && b[i].is_ascii_whitespace() {
        i += 1;
    }
    (i < b.len()).then_some(i)
}

/// `it's` -> `'it'\''s'`: one shell word that sh turns back into the exact text.
fn quote(cmd: &str) -> String {
    format!("'{}'", cmd.replace('\'', "'\\''"))
}

/// The inverse of `quote` for the whole rest of a line; None when it is not one word.
fn unquote(word: &str) -> Option<String> {
    let mut out = String::new();
    let mut rest = word;
    while !rest.is_empty() {
        if let Some(r) = rest.strip_prefix("\\'") {
            out.push('\'');
            rest = r;
            continue;
        }
        let r = rest.strip_prefix('\'')?;
        let end = r.find('\'')?;
        out.push_str(&r[..end]);
        rest = &r[end + 1..];
    }
    Some(out)
}

/// The active line with the guard removed (the line of stage 0), if it is guarded.
fn unwrap_guard(active: &str, f: LineFormat) -> Option<String> {
    let start = command_start(active, f.user_field)?;
    let cmd = &active[start..];
    let inner = unquote(&cmd[guarded_word(cmd)?..])?;
    Some(format!("{}{inner}", &active[..start]))
}

fn wrap_guard(plain: &str, f: LineFormat) -> Result<String, String> {
    let start = command_start(plain, f.user_field)
        .ok_or_else(|| format!("cannot find the command in {plain:?}; edit it by hand"))?;
    let cmd = &plain[start..];
    if cmd.replace("\\%", "").contains('%') {
        return Err("the command has an unescaped % (cron turns it into a newline); ciq will not wrap it — edit it by hand".into());
    }
    Ok(format!("{}{} {}", &plain[..start], f.guard, quote(cmd)))
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
                Some("*/10") if guarded_word(body).is_some() => CronState::Guarded,
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
pub fn set(text: &str, pattern: &str, target: CronTarget, f: LineFormat) -> Result<String, String> {
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
    // The line of stage 0, from whatever the entry is now.
    let plain = unwrap_guard(active, f).unwrap_or_else(|| active.to_string());
    let every10 = |line: &str| -> Result<String, String> {
        let (s, e) = minute_span(line)
            .filter(|(s, _)| !line[*s..].starts_with('@'))
            .ok_or_else(|| format!("cannot read the schedule of {line:?}; edit it by hand"))?;
        Ok(format!("{}*/10{}", &line[..s], &line[e..]))
    };
    let new_body = match target {
        CronTarget::Disabled if entry.disabled => body.to_string(),
        CronTarget::Disabled => format!("{DISABLED_MARKER}{plain}"),
        CronTarget::Every10 => every10(&plain)?,
        CronTarget::Guarded => wrap_guard(&every10(&plain)?, f)?,
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
                let bytes = files::read_opt(p)?.ok_or_else(|| Error::Unreadable {
                    what: p.display().to_string(),
                    msg: "no such file".into(),
                })?;
                utf8(p.display().to_string(), bytes)
            }
            CrontabTarget::User(_) => {
                let ran = program::run(
                    self.program,
                    &self.user_args(&["-l"]),
                    program::CALL_TIMEOUT,
                )?;
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
                let b = files::backup_bytes(backup_dir, &file_name(p), old.as_bytes())?;
                files::atomic_write(p, text.as_bytes(), 0o644)?;
                Ok(b)
            }
            CrontabTarget::User(u) => {
                let name = format!("crontab-{}", u.as_deref().unwrap_or("user"));
                let b = files::backup_bytes(backup_dir, &name, old.as_bytes())?;
                let tmp = files::private_temp("ciq-crontab", text.as_bytes())?;
                let path = tmp.to_string_lossy().to_string();
                let ran = program::run(
                    self.program,
                    &self.user_args(&[&path]),
                    program::CALL_TIMEOUT,
                );
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

    const SYS: LineFormat = LineFormat {
        guard: "/usr/local/bin/ciq --config /etc/ciq/ciq.toml cron-guard --",
        user_field: true,
    };
    const USER: LineFormat = LineFormat {
        user_field: false,
        ..SYS
    };

    #[test]
    fn schedules_round_trip_byte_for_byte() {
        let t = "MAILTO=ops\r\n# */10 * * * * old mod_ci/cron.py\r\n*/10  * * * * www-data cd /var/www && python mod_ci/cron.py > 'logs/cron log' 2>&1\r\n0 3 * * * www-data other";
        assert_eq!(read(t, P), CronState::Every10);
        let s1 = set(t, P, CronTarget::Guarded, SYS).unwrap();
        assert_eq!(
            s1,
            t.replace(
                "www-data cd /var/www && python mod_ci/cron.py > 'logs/cron log' 2>&1",
                "www-data /usr/local/bin/ciq --config /etc/ciq/ciq.toml cron-guard -- 'cd /var/www && python mod_ci/cron.py > '\\''logs/cron log'\\'' 2>&1'"
            )
        );
        assert_eq!(read(&s1, P), CronState::Guarded);
        assert_eq!(set(&s1, P, CronTarget::Guarded, SYS).unwrap(), s1);
        let s3 = set(&s1, P, CronTarget::Disabled, SYS).unwrap();
        assert_eq!(read(&s3, P), CronState::Disabled);
        assert_eq!(
            s3,
            t.replace(
                "*/10  * * * * www-data cd",
                "#ciq-disabled# */10  * * * * www-data cd"
            )
        );
        assert_eq!(set(&s3, P, CronTarget::Disabled, SYS).unwrap(), s3);
        assert_eq!(set(&s3, P, CronTarget::Every10, SYS).unwrap(), t);
        assert_eq!(set(&s1, P, CronTarget::Every10, SYS).unwrap(), t);
        // The stage-2 schedule of earlier ciq versions goes back to */10 as well.
        let old2 = t.replace("*/10  *", "*/30  *");
        assert_eq!(read(&old2, P), CronState::Every30);
        assert_eq!(set(&old2, P, CronTarget::Every10, SYS).unwrap(), t);
    }

    #[test]
    fn a_guard_with_options_is_recognised_and_never_wrapped_twice() {
        let f = LineFormat {
            guard:
                "/usr/local/bin/ciq --config /etc/ciq/ciq.toml cron-guard --log /var/log/g.log --",
            user_field: false,
        };
        let t = "*/10 * * * * python3 /srv/sp/mod_ci/cron.py > /srv/sp/logs/cron.log 2>&1\n";
        let g = set(t, P, CronTarget::Guarded, f).unwrap();
        assert_eq!(read(&g, P), CronState::Guarded);
        assert_eq!(
            set(&g, P, CronTarget::Guarded, f).unwrap(),
            g,
            "not wrapped twice"
        );
        // Another guard command (say, a new config path) is still unwrapped exactly.
        assert_eq!(set(&g, P, CronTarget::Every10, USER).unwrap(), t);
    }

    #[test]
    fn user_crontab_lines_have_no_user_field() {
        let t = "*/10 * * * * python3 /var/www/sample-platform/mod_ci/cron.py > /var/www/sample-platform/logs/cron.log 2>&1\n";
        let g = set(t, P, CronTarget::Guarded, USER).unwrap();
        assert!(g.starts_with("*/10 * * * * /usr/local/bin/ciq --config /etc/ciq/ciq.toml cron-guard -- 'python3 /var/www"), "{g}");
        assert_eq!(set(&g, P, CronTarget::Every10, USER).unwrap(), t);
        assert!(set(
            "*/10 * * * * date +%s mod_ci/cron.py\n",
            P,
            CronTarget::Guarded,
            USER
        )
        .unwrap_err()
        .contains('%'));
        let esc = "*/10 * * * * date +\\%s mod_ci/cron.py\n";
        let g = set(esc, P, CronTarget::Guarded, USER).unwrap();
        assert_eq!(set(&g, P, CronTarget::Every10, USER).unwrap(), esc);
    }

    #[test]
    fn odd_entries_are_reported_not_guessed() {
        assert_eq!(read("", P), CronState::Missing);
        assert_eq!(
            read("@hourly mod_ci/cron.py\n", P),
            CronState::Other("@hourly".into())
        );
        assert!(set("@hourly mod_ci/cron.py\n", P, CronTarget::Every10, USER).is_err());
        let two = "*/10 * * * * mod_ci/cron.py\n*/10 * * * * mod_ci/cron.py\n";
        assert_eq!(read(two, P), CronState::Several(2));
        assert!(set(two, P, CronTarget::Guarded, USER).is_err());
    }
}
