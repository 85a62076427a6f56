//! File edits that cannot be half-applied: a timestamped backup before every edit, then
//! an atomic write (temp file in the same directory, fsync, rename) that keeps the
//! original owner and mode.

use std::fs;
use std::io::Write;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};

#[derive(Debug, thiserror::Error)]
pub enum FsError {
    #[error("{path}: {op}: {err}")]
    Io {
        path: String,
        op: &'static str,
        err: std::io::Error,
    },
}

fn io<'a>(path: &'a Path, op: &'static str) -> impl FnOnce(std::io::Error) -> FsError + 'a {
    move |err| FsError::Io {
        path: path.display().to_string(),
        op,
        err,
    }
}

/// Reads a file; a missing file is `None`.
pub fn read_opt(path: &Path) -> Result<Option<Vec<u8>>, FsError> {
    match fs::read(path) {
        Ok(b) => Ok(Some(b)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(io(path, "read")(e)),
    }
}

/// `20261128T084500.123Z`: sortable and safe in file names.
pub fn stamp() -> String {
    chrono::Utc::now().format("%Y%m%dT%H%M%S%.3fZ").to_string()
}

/// Saves `bytes` (the current content of something called `name`) under `dir` as
/// `<name>.<stamp>.bak` and returns the backup's path. Never overwrites a backup.
pub fn backup_bytes(dir: &Path, name: &str, bytes: &[u8]) -> Result<PathBuf, FsError> {
    fs::create_dir_all(dir).map_err(io(dir, "create backup directory"))?;
    let stamp = stamp();
    for n in 0..1000 {
        let suffix = if n == 0 {
            String::new()
        } else {
            format!(".{n}")
        };
        let path = dir.join(format!("{name}.{stamp}{suffix}.bak"));
        let file = fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode_private()
            .open(&path);
        match file {
            Ok(mut f) => {
                f.write_all(bytes).map_err(io(&path, "write backup"))?;
                f.sync_all().map_err(io(&path, "sync backup"))?;
                return Ok(path);
            }
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
            Err(e) => return Err(io(&path, "create backup")(e)),
        }
    }
    Err(io(dir, "create backup")(std::io::Error::other(
        "too many backups with the same timestamp",
    )))
}

/// Backs up an existing file (no-op for a missing one) before it is edited.
pub fn backup_file(dir: &Path, path: &Path) -> Result<Option<PathBuf>, FsError> {
    let Some(bytes) = read_opt(path)? else {
        return Ok(None);
    };
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().to_string())
        .unwrap_or_else(|| "file".into());
    backup_bytes(dir, &name, &bytes).map(Some)
}

/// A new file only the caller can read (e.g. a crontab handed to `crontab FILE`).
pub fn private_temp(prefix: &str, bytes: &[u8]) -> Result<PathBuf, FsError> {
    let dir = std::env::temp_dir();
    for n in 0..100 {
        let path = dir.join(format!("{prefix}-{}-{}-{n}", std::process::id(), stamp()));
        match fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode_private()
            .open(&path)
        {
            Ok(mut f) => {
                f.write_all(bytes).map_err(io(&path, "write"))?;
                return Ok(path);
            }
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
            Err(e) => return Err(io(&path, "create")(e)),
        }
    }
    Err(io(&dir, "create temp file")(std::io::Error::other(
        "name collision",
    )))
}

trait PrivateMode {
    fn mode_private(&mut self) -> &mut Self;
}

impl PrivateMode for fs::OpenOptions {
    fn mode_private(&mut self) -> &mut Self {
        use std::os::unix::fs::OpenOptionsExt;
        self.mode(0o600)
    }
}

/// Replaces `path` with `bytes` atomically; an existing file's owner and mode are kept,
/// a new file gets `new_mode`.
pub fn atomic_write(path: &Path, bytes: &[u8], new_mode: u32) -> Result<(), FsError> {
    // A symlinked config stays a symlink: the file it points to is what gets replaced.
    let real;
    let path = match fs::symlink_metadata(path) {
        Ok(m) if m.file_type().is_symlink() => {
            real = fs::canonicalize(path).map_err(io(path, "resolve symlink"))?;
            real.as_path()
        }
        _ => path,
    };
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let meta = match fs::metadata(path) {
        Ok(m) => Some(m),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
        Err(e) => return Err(io(path, "stat")(e)),
    };
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().to_string())
        .unwrap_or_else(|| "file".into());
    let tmp = dir.join(format!(".{name}.ciq-{}.tmp", std::process::id()));
    let result = (|| {
        let mut f = fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode_private()
            .open(&tmp)
            .map_err(io(&tmp, "create temp file"))?;
        f.write_all(bytes).map_err(io(&tmp, "write"))?;
        let mode = meta.as_ref().map(|m| m.mode() & 0o7777).unwrap_or(new_mode);
        if let Some(m) = &meta {
            std::os::unix::fs::fchown(&f, Some(m.uid()), Some(m.gid()))
                .map_err(io(&tmp, "keep owner"))?;
        }
        f.set_permissions(fs::Permissions::from_mode(mode))
            .map_err(io(&tmp, "keep mode"))?;
        f.sync_all().map_err(io(&tmp, "sync"))?;
        fs::rename(&tmp, path).map_err(io(path, "rename into place"))?;
        if let Ok(d) = fs::File::open(&dir) {
            let _ = d.sync_all();
        }
        Ok(())
    })();
    if result.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    result
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn atomic_write_keeps_mode_and_backup_keeps_bytes() {
        let d = tempfile::tempdir().unwrap();
        let f = d.path().join("config.py");
        fs::write(&f, b"A = 1\n").unwrap();
        fs::set_permissions(&f, fs::Permissions::from_mode(0o640)).unwrap();
        let b = backup_file(&d.path().join("bk"), &f).unwrap().unwrap();
        atomic_write(&f, b"A = 2\n", 0o644).unwrap();
        assert_eq!(fs::read(&f).unwrap(), b"A = 2\n");
        assert_eq!(fs::metadata(&f).unwrap().mode() & 0o777, 0o640);
        assert_eq!(fs::read(&b).unwrap(), b"A = 1\n");
        let b2 = backup_file(&d.path().join("bk"), &f).unwrap().unwrap();
        assert_ne!(b, b2);
        assert_eq!(
            fs::read_dir(d.path()).unwrap().count(),
            2,
            "no temp file left"
        );
    }

    #[test]
    fn a_symlinked_file_stays_a_symlink() {
        let d = tempfile::tempdir().unwrap();
        let real = d.path().join("real.py");
        let link = d.path().join("config.py");
        fs::write(&real, b"A = 1\n").unwrap();
        std::os::unix::fs::symlink(&real, &link).unwrap();
        atomic_write(&link, b"A = 2\n", 0o644).unwrap();
        assert!(fs::symlink_metadata(&link)
            .unwrap()
            .file_type()
            .is_symlink());
        assert_eq!(fs::read(&real).unwrap(), b"A = 2\n");
    }
}
