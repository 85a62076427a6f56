//! The stand-in platform of `ciq up`: with no `[platform]` configured and a SQLite
//! database, `up` writes the stand-in bridge (contrib/sample-platform/standin_bridge.py,
//! embedded in the binary) under its data directory and runs it in place of the real
//! bridge. It plays the platform's part on the SQLite file — it, not ciq, writes the rows
//! a real `start_test` would — so the embedded default works like the real thing.

use crate::cli::{CliError, CliResult};
use crate::config::Config;
use std::path::{Path, PathBuf};

const STANDIN: &str = include_str!("../../../contrib/sample-platform/standin_bridge.py");
const BRIDGE: &str = include_str!("../../../contrib/sample-platform/ciq_bridge.py");

/// The SQLite file of a `sqlite:` URL, made absolute.
fn sqlite_path(url: &str) -> Option<PathBuf> {
    let rest = url.strip_prefix("sqlite:")?;
    let rest = rest.strip_prefix("//").unwrap_or(rest);
    let path = rest
        .split('?')
        .next()
        .filter(|p| !p.is_empty() && *p != ":memory:")?;
    let p = Path::new(path);
    Some(if p.is_absolute() {
        p.to_path_buf()
    } else {
        std::env::current_dir().ok()?.join(p)
    })
}

/// Where the stand-in notes each start: started-tests.log beside the database.
fn started_log(db: &Path) -> PathBuf {
    db.with_file_name("started-tests.log")
}

/// Points `cfg` at the stand-in when nothing else is configured; returns the script's
/// path (None: a real platform is configured, or the database is not SQLite).
pub fn configure(cfg: &mut Config, data_dir: &Path) -> CliResult<Option<PathBuf>> {
    if cfg.platform.configured() {
        return Ok(None);
    }
    let Some(db) = sqlite_path(&cfg.database.value) else {
        return Ok(None);
    };
    let dir = data_dir.join("standin");
    let write = |name: &str, text: &str| -> CliResult<PathBuf> {
        let p = dir.join(name);
        std::fs::create_dir_all(&dir)
            .and_then(|_| std::fs::write(&p, text))
            .map_err(|e| CliError::failure(format!("cannot write {}: {e}", p.display())))?;
        Ok(p)
    };
    write("ciq_bridge.py", BRIDGE)?;
    let script = write("standin_bridge.py", STANDIN)?;
    // The stand-in appends a line per start; the file exists from the start on, so
    // `tail -f started-tests.log` works before the first test starts.
    let log = started_log(&db);
    if let Err(e) = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&log)
    {
        // The database beside it cannot be created either: connecting reports that.
        tracing::warn!(file = %log.display(), error = %e, "cannot create the stand-in's log");
    }
    let p = &mut cfg.platform;
    p.python = Some("python3".into());
    p.bridge = Some(script.display().to_string());
    p.lock_dir = Some(data_dir.join("locks").display().to_string());
    p.mode = Some(crate::config::platform::Mode::Active);
    p.bridge_args = Some(vec![
        "--database".into(),
        db.display().to_string(),
        "--max-runtime-minutes".into(),
        (p.max_runtime().as_secs() / 60).max(1).to_string(),
    ]);
    Ok(Some(script))
}

#[cfg(test)]
mod tests {
    #[test]
    fn sqlite_urls_give_absolute_paths() {
        let cwd = std::env::current_dir().unwrap();
        assert_eq!(
            super::sqlite_path("sqlite://ciq-platform.db"),
            Some(cwd.join("ciq-platform.db"))
        );
        assert_eq!(
            super::sqlite_path("sqlite:///var/x.db?mode=rwc"),
            Some("/var/x.db".into())
        );
        assert_eq!(super::sqlite_path("sqlite::memory:"), None);
        assert_eq!(super::sqlite_path("mysql://h/db"), None);
    }
}
