//! Which layout a crontab has — a user field after the five time fields (/etc/crontab,
//! /etc/cron.d/*) or not (a user crontab) — and the checks an edited cron line must
//! pass before ciq keeps it: its program exists and `sh -n` accepts its command.

use super::crontab::DISABLED_MARKER;
use crate::config::rollout::{CrontabFormat, CrontabTarget};
use crate::sys::lines::lines;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::{Command, Stdio};

/// True when `name` is a user on this system (`getent passwd`, else /etc/passwd).
pub fn is_user(name: &str) -> bool {
    if name.is_empty() || name.starts_with('-') {
        return false;
    }
    match Command::new("getent")
        .args(["passwd", name])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
    {
        Ok(s) if s.code() == Some(0) => true,
        Ok(s) if s.code() == Some(2) => false,
        _ => std::fs::read_to_string("/etc/passwd")
            .unwrap_or_default()
            .lines()
            .any(|l| l.split(':').next() == Some(name)),
    }
}

/// The whitespace-separated fields of a line.
fn fields(body: &str) -> Vec<&str> {
    body.split_whitespace().collect()
}

/// The entry's line (without ciq's disabled marker), if exactly one line runs `pattern`.
fn entry_line<'a>(text: &'a str, pattern: &str) -> Option<&'a str> {
    let mut found = lines(text)
        .into_iter()
        .map(|l| l.body.strip_prefix(DISABLED_MARKER).unwrap_or(l.body))
        .filter(|b| b.contains(pattern) && !b.trim_start().starts_with('#'))
        .filter(|b| !fields(b).first().is_some_and(|f| f.contains('=')));
    let one = found.next()?;
    found.next().is_none().then_some(one)
}

/// The search path cron gives the command: the crontab's own `PATH=`, else cron's default.
pub fn cron_path(text: &str) -> String {
    lines(text)
        .iter()
        .filter_map(|l| l.body.trim().strip_prefix("PATH="))
        .next_back()
        .map(|p| p.trim_matches(['"', '\'']).to_string())
        .unwrap_or_else(|| "/usr/bin:/bin".into())
}

fn executable(p: &Path) -> bool {
    std::fs::metadata(p).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

/// `name` as cron's shell would find it: a path, or a file in one of `path`'s folders.
pub fn program_exists(name: &str, path: &str) -> bool {
    if name.contains('/') {
        return executable(Path::new(name));
    }
    path.split(':')
        .filter(|d| !d.is_empty())
        .any(|d| executable(&Path::new(d).join(name)))
}

/// Whether the entry's line has a user field. From where the file is when that says it
/// (a user crontab has none; /etc/crontab and /etc/cron.d/* have one, and its 6th field
/// must then be a user), else from the line: a 6th field that names a user on this
/// system is the user field. Err (one line) when that cannot be told.
pub fn user_field(
    target: &CrontabTarget,
    format: Option<CrontabFormat>,
    text: &str,
    pattern: &str,
) -> Result<bool, String> {
    if let Some(f) = format {
        return Ok(f == CrontabFormat::System);
    }
    let path = match target {
        CrontabTarget::User(_) => return Ok(false),
        CrontabTarget::File(p) => p,
    };
    let system_place =
        path == Path::new("/etc/crontab") || path.parent() == Some(Path::new("/etc/cron.d"));
    let Some(line) = entry_line(text, pattern) else {
        // No single entry: nothing will be edited (the edit reports why).
        return Ok(system_place);
    };
    let f = fields(line);
    let sixth = if f.first().is_some_and(|w| w.starts_with('@')) {
        f.get(1)
    } else {
        f.get(5)
    };
    let Some(sixth) = sixth.copied() else {
        return Ok(system_place);
    };
    let user = is_user(sixth);
    let shown = path.display();
    if system_place {
        if !user {
            return Err(format!(
                "{shown}: lines here have a user field, but {sixth:?} (the 6th field of the line that runs {pattern}) is not a user on this system; fix the line first"
            ));
        }
        return Ok(true);
    }
    let has_command_after = f.len() > if f[0].starts_with('@') { 2 } else { 6 };
    if !user || !has_command_after {
        return Ok(false);
    }
    if program_exists(sixth, &cron_path(text)) {
        return Err(format!(
            "{shown}: cannot tell whether {sixth:?} in the line that runs {pattern} is a user (system crontab) or the command (user crontab); set rollout.crontab_format = \"system\" or \"user\""
        ));
    }
    Ok(true)
}

/// Shell words that are not programs on disk.
const BUILTINS: &[&str] = &[
    "cd", ".", ":", "true", "false", "test", "[", "export", "set", "umask", "ulimit", "if", "for",
    "while", "until", "case", "{", "(", "!", "exec", "nice", "env", "echo", "printf",
];

/// Checks the edited entry as cron will run it: `sh -n` accepts its command and its
/// program exists. Ok for a commented-out entry. Err says what is wrong, in one line.
pub fn check_entry(text: &str, pattern: &str, user_field: bool) -> Result<(), String> {
    let Some(line) = lines(text)
        .into_iter()
        .map(|l| l.body)
        .find(|b| b.contains(pattern) && !b.trim_start().starts_with('#'))
    else {
        return Ok(());
    };
    let skip = if line.trim_start().starts_with('@') {
        1
    } else {
        5
    } + usize::from(user_field);
    let mut rest = line.trim_start();
    if user_field {
        let user = fields(line).get(skip - 1).copied().unwrap_or("");
        if !is_user(user) {
            return Err(format!(
                "its user field {user:?} is not a user on this system"
            ));
        }
    }
    for _ in 0..skip {
        rest = rest
            .find(char::is_whitespace)
            .map(|i| rest[i..].trim_start())
            .unwrap_or("");
    }
    if rest.is_empty() {
        return Err(format!("the line that runs {pattern} has no command"));
    }
    // cron turns `\%` into `%` before the shell sees it.
    let cmd = rest.replace("\\%", "%");
    let ran = Command::new("sh")
        .args(["-n", "-c", &cmd])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .output()
        .map_err(|e| format!("cannot run sh -n: {e}"))?;
    if !ran.status.success() {
        let why = String::from_utf8_lossy(&ran.stderr);
        let why = why.lines().next().unwrap_or("").trim();
        return Err(format!("sh -n rejects its command ({why})"));
    }
    let program = cmd
        .split_whitespace()
        .find(|w| !w.contains('=') || w.starts_with('='))
        .unwrap_or("");
    if !BUILTINS.contains(&program) && !program_exists(program, &cron_path(text)) {
        return Err(format!(
            "its program {program} does not exist or is not executable"
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::PathBuf;

    /// The platform's own line, from its install docs.
    const REAL: &str = "*/10 * * * * python3 /var/www/sample-platform/mod_ci/cron.py > /var/www/sample-platform/logs/cron.log 2>&1\n";
    const P: &str = "mod_ci/cron.py";

    fn file(p: &str) -> CrontabTarget {
        CrontabTarget::File(PathBuf::from(p))
    }

    #[test]
    fn the_layout_comes_from_where_the_file_is_then_from_the_users() {
        let sys = "*/10 * * * * root python3 /srv/mod_ci/cron.py\n";
        assert_eq!(
            user_field(&CrontabTarget::User(None), None, sys, P),
            Ok(false)
        );
        assert_eq!(user_field(&file("/etc/cron.d/sp"), None, sys, P), Ok(true));
        assert_eq!(user_field(&file("/etc/crontab"), None, sys, P), Ok(true));
        // Anywhere else: "python3" is no user, so the platform's real line has none.
        assert_eq!(user_field(&file("/home/sp/cron"), None, REAL, P), Ok(false));
        assert_eq!(user_field(&file("/home/sp/cron"), None, sys, P), Ok(true));
        let e = user_field(&file("/etc/cron.d/sp"), None, REAL, P).unwrap_err();
        assert!(e.contains("\"python3\"") && e.contains("not a user"), "{e}");
        assert!(!e.contains('\n'));
        // Said in the config: no guessing.
        let f = Some(CrontabFormat::User);
        assert_eq!(user_field(&file("/etc/cron.d/sp"), f, sys, P), Ok(false));
    }

    #[test]
    fn a_sixth_field_that_is_both_a_user_and_a_program_is_refused() {
        let dir = std::env::temp_dir().join(format!("ciq-cronfmt-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let prog = dir.join("root");
        std::fs::write(&prog, "#!/bin/sh\n").unwrap();
        std::fs::set_permissions(&prog, std::fs::Permissions::from_mode(0o755)).unwrap();
        let t = format!(
            "PATH={}:/usr/bin:/bin\n*/10 * * * * root mod_ci/cron.py\n",
            dir.display()
        );
        let e = user_field(&file("/home/sp/cron"), None, &t, P).unwrap_err();
        assert!(e.contains("rollout.crontab_format"), "{e}");
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn an_edited_line_must_pass_sh_n_and_name_a_program_that_exists() {
        assert_eq!(check_entry(REAL, P, false), Ok(()));
        let sh = "*/10 * * * * root /bin/sh -c 'echo mod_ci/cron.py'\n";
        assert_eq!(check_entry(sh, P, true), Ok(()));
        // The broken guard line of the issue: the user field taken from the command.
        let broken = "*/10 * * * * python3 /nonexistent/ciq --config c cron-guard -- '/var/www/sample-platform/mod_ci/cron.py > log 2>&1'\n";
        let e = check_entry(broken, P, true).unwrap_err();
        assert!(e.contains("\"python3\" is not a user"), "{e}");
        let e = check_entry(&broken.replace("python3", "root"), P, true).unwrap_err();
        assert!(e.contains("/nonexistent/ciq"), "{e}");
        let bad = "*/10 * * * * /bin/sh 'mod_ci/cron.py\n";
        assert!(check_entry(bad, P, false).unwrap_err().contains("sh -n"));
        let off = format!("{DISABLED_MARKER}{REAL}");
        assert_eq!(check_entry(&off, P, false), Ok(()));
    }
}
