//! The `redis-server` that `ciq up` starts: by default its own, on a unix socket under
//! ciq's data directory (TCP off), so a Redis already on 6379 is never touched; or, when
//! `--broker` names a local port where nothing answers, on that port. AOF on, data under
//! the data directory, in its own process group (a Ctrl-C at the terminal reaches `up`,
//! which stops it last), stopped with SIGTERM (which flushes the AOF) when `up` exits.

use crate::cli::{CliError, CliResult, Kind};
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};
use tokio::process::{Child, Command};

/// `$XDG_DATA_HOME/ciq`, else `~/.local/share/ciq`, else `./.ciq`.
pub fn default_data_dir() -> PathBuf {
    if let Some(x) = std::env::var_os("XDG_DATA_HOME").filter(|v| !v.is_empty()) {
        return PathBuf::from(x).join("ciq");
    }
    match std::env::var_os("HOME").filter(|v| !v.is_empty()) {
        Some(h) => PathBuf::from(h).join(".local/share/ciq"),
        None => PathBuf::from(".ciq"),
    }
}

/// The port of a `redis://` URL on a loopback host without a password; None otherwise
/// (ciq then never starts a server for it).
pub fn local_port(url: &str) -> Option<u16> {
    let info = redis::IntoConnectionInfo::into_connection_info(url).ok()?;
    if info.redis.password.is_some() {
        return None;
    }
    match info.addr {
        redis::ConnectionAddr::Tcp(host, port)
            if matches!(host.as_str(), "127.0.0.1" | "localhost" | "::1" | "[::1]") =>
        {
            Some(port)
        }
        _ => None,
    }
}

/// True when something accepts TCP connections on 127.0.0.1:`port` (a quick probe: the
/// broker's own connect retries with backoff).
pub async fn answers(port: u16) -> bool {
    let c = tokio::net::TcpStream::connect(("127.0.0.1", port));
    matches!(
        tokio::time::timeout(Duration::from_millis(500), c).await,
        Ok(Ok(_))
    )
}

/// True when a server accepts connections on the unix socket `path`.
pub async fn answers_socket(path: &Path) -> bool {
    let c = tokio::net::UnixStream::connect(path);
    matches!(
        tokio::time::timeout(Duration::from_millis(500), c).await,
        Ok(Ok(_))
    )
}

/// Where the started server listens.
#[derive(Debug, Clone)]
pub enum Listen {
    /// 127.0.0.1:port
    Port(u16),
    /// A unix socket (TCP off).
    Socket(PathBuf),
}

impl Listen {
    async fn answers(&self) -> bool {
        match self {
            Listen::Port(p) => answers(*p).await,
            Listen::Socket(s) => answers_socket(s).await,
        }
    }

    fn describe(&self) -> String {
        match self {
            Listen::Port(p) => format!("port {p}"),
            Listen::Socket(s) => format!("socket {}", s.display()),
        }
    }
}

/// The unix socket `up` gives its own Redis: `DIR/redis.sock`, absolute (it becomes the
/// broker URL other commands use). A path too long for a socket is refused in one line.
pub fn socket_in(dir: &Path) -> CliResult<PathBuf> {
    std::fs::create_dir_all(dir)
        .map_err(|e| CliError::failure(format!("cannot create {}: {e}", dir.display())))?;
    let abs = std::fs::canonicalize(dir)
        .map_err(|e| CliError::failure(format!("cannot read {}: {e}", dir.display())))?;
    let sock = abs.join("redis.sock");
    // sun_path holds 108 bytes including the terminating NUL.
    if sock.as_os_str().len() > 107 {
        return Err(CliError::usage(format!(
            "the data directory's socket path {} is longer than a unix socket allows (107 bytes)",
            sock.display()
        ))
        .with_hint("give a shorter --data-dir"));
    }
    Ok(sock)
}

pub struct LocalRedis {
    child: Child,
    pub dir: PathBuf,
}

impl LocalRedis {
    /// Starts `program` listening on `at` with its data in `dir`; waits until it answers.
    pub async fn start(program: &str, at: &Listen, dir: &Path) -> CliResult<LocalRedis> {
        std::fs::create_dir_all(dir)
            .map_err(|e| CliError::failure(format!("cannot create {}: {e}", dir.display())))?;
        let log = std::fs::File::create(dir.join("redis.log"))
            .map_err(|e| CliError::failure(format!("cannot write in {}: {e}", dir.display())))?;
        let mut cmd = Command::new(program);
        match at {
            Listen::Port(port) => cmd.args(["--bind", "127.0.0.1", "--port", &port.to_string()]),
            Listen::Socket(sock) => cmd
                .args(["--port", "0", "--unixsocketperm", "700", "--unixsocket"])
                .arg(sock),
        };
        let child = cmd
            .args(["--appendonly", "yes", "--appendfsync", "everysec"])
            .args(["--daemonize", "no", "--protected-mode", "yes"])
            .arg("--dir")
            .arg(dir)
            .stdin(Stdio::null())
            .stdout(
                log.try_clone()
                    .map(Stdio::from)
                    .unwrap_or_else(|_| Stdio::null()),
            )
            .stderr(Stdio::from(log))
            // Its own process group: a Ctrl-C at the terminal must not stop it before the
            // worker has handed its tasks back; `stop` ends it last.
            .process_group(0)
            .kill_on_drop(true)
            .spawn()
            .map_err(|e| {
                CliError::new(Kind::Broker, format!("cannot start {program}: {e}"))
                    .with_hint("install redis-server, or point --broker at a running Redis")
            })?;
        let mut r = LocalRedis {
            child,
            dir: dir.to_path_buf(),
        };
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            if at.answers().await {
                return Ok(r);
            }
            if let Ok(Some(st)) = r.child.try_wait() {
                return Err(CliError::new(
                    Kind::Broker,
                    format!(
                        "{program} exited at start ({st}); see {}",
                        r.dir.join("redis.log").display()
                    ),
                ));
            }
            if Instant::now() > deadline {
                r.stop().await;
                return Err(CliError::new(
                    Kind::Broker,
                    format!("{program} did not answer on {} within 10 s", at.describe()),
                ));
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// SIGTERM (Redis flushes the AOF and exits), SIGKILL after 10 s.
    pub async fn stop(&mut self) {
        if let Some(pid) = self.child.id().and_then(|p| i32::try_from(p).ok()) {
            // SAFETY: signals our own child process; no memory involved.
            unsafe {
                libc::kill(pid, libc::SIGTERM);
            }
        }
        if tokio::time::timeout(Duration::from_secs(10), self.child.wait())
            .await
            .is_err()
        {
            let _ = self.child.kill().await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_local_password_less_urls_get_a_server() {
        assert_eq!(local_port("redis://127.0.0.1:6390/0"), Some(6390));
        assert_eq!(local_port("redis://localhost/0"), Some(6379));
        assert_eq!(local_port("redis://10.0.0.5:6379/0"), None);
        assert_eq!(local_port("redis://:pw@127.0.0.1:6379/0"), None);
        assert!(local_port("rediss://127.0.0.1:6379/0").is_none());
    }
}
