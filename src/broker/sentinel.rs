//! A broker behind Redis Sentinel: `redis+sentinel://[user:pass@]host:port,host:port/master/db`.
//!
//! The master is resolved through the sentinels (the redis crate's `Sentinel`), and the
//! connection is checked with `ROLE` before anything is written. A connection error,
//! `READONLY` (the master was demoted) or `MASTERDOWN`/`UNBLOCKED`/`LOADING` on any
//! command makes the broker re-resolve in the background and swap in a connection to the
//! new master; the generation number tells the holders of blocking connections to
//! rebuild theirs too. Nothing reconnects silently to the old address: a connection to
//! a master that died stays dead until the sentinels name a master again.

use crate::backoff::Backoff;
use redis::aio::MultiplexedConnection;
use redis::sentinel::{Sentinel, SentinelNodeConnectionInfo};
use redis::{AsyncConnectionConfig, ConnectionAddr, ConnectionInfo, RedisConnectionInfo};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

pub const SCHEME: &str = "redis+sentinel://";

/// Credentials for the sentinels themselves (`sentinel_username`/`sentinel_password`).
#[derive(Clone, Default)]
pub struct SentinelAuth {
    pub username: Option<String>,
    pub password: Option<String>,
}

/// A parsed `redis+sentinel://` URL.
#[derive(Debug, Clone, PartialEq)]
pub struct SentinelUrl {
    pub sentinels: Vec<(String, u16)>,
    pub master: String,
    pub db: i64,
    pub username: Option<String>,
    pub password: Option<String>,
}

pub fn is_sentinel_url(url: &str) -> bool {
    url.starts_with(SCHEME)
}

/// Parses `redis+sentinel://[user:pass@]h:p[,h:p…]/master[/db]` (port defaults to 26379).
/// Errors never repeat the password.
pub fn parse(url: &str) -> Result<SentinelUrl, String> {
    let rest = url
        .strip_prefix(SCHEME)
        .ok_or_else(|| format!("a Sentinel broker URL starts with {SCHEME}"))?;
    let (username, password, rest) = super::url_parts::credentials(rest);
    let mut parts = rest.splitn(3, '/');
    let hosts = parts.next().unwrap_or("");
    let master = parts.next().unwrap_or("").trim_end_matches('/');
    if master.is_empty() {
        return Err(
            "a Sentinel broker URL names the master: redis+sentinel://host:26379/mymaster/0".into(),
        );
    }
    let db = match parts.next().map(|d| d.trim_end_matches('/')) {
        None | Some("") => 0,
        Some(d) => d
            .parse::<i64>()
            .map_err(|_| format!("bad database number {d:?} in the Sentinel broker URL"))?,
    };
    let sentinels = super::url_parts::hosts(hosts, 26379, "sentinel")?;
    if sentinels.is_empty() {
        return Err("a Sentinel broker URL lists at least one sentinel host:port".into());
    }
    Ok(SentinelUrl {
        sentinels,
        master: master.to_string(),
        db,
        username,
        password,
    })
}

/// True for errors after which the master must be looked up again.
pub fn needs_failover(e: &redis::RedisError) -> bool {
    if e.is_io_error() || e.is_connection_dropped() || e.is_connection_refusal() || e.is_timeout() {
        return true;
    }
    let s = e.to_string();
    ["READONLY", "MASTERDOWN", "UNBLOCKED", "LOADING"]
        .iter()
        .any(|c| e.code() == Some(c) || s.contains(c))
}

struct Current {
    conn: MultiplexedConnection,
    client: redis::Client,
    master: String,
}

/// The live connection to whichever server the sentinels call master.
pub struct Failover {
    target: SentinelUrl,
    auth: SentinelAuth,
    current: RwLock<Current>,
    generation: AtomicU64,
    resolving: AtomicBool,
    swapped_at: Mutex<Instant>,
}

const CONNECT_TIMEOUT: Duration = Duration::from_secs(2);
const WATCH: Duration = Duration::from_secs(1);
const RESOLVE_TIMEOUT: Duration = Duration::from_secs(5);

impl Failover {
    /// Resolves the master once (fails fast when no sentinel answers or it is not master).
    pub async fn connect(target: SentinelUrl, auth: SentinelAuth) -> redis::RedisResult<Failover> {
        let cur = resolve(&target, &auth).await?;
        Ok(Failover {
            target,
            auth,
            current: RwLock::new(cur),
            generation: AtomicU64::new(1),
            resolving: AtomicBool::new(false),
            swapped_at: Mutex::new(Instant::now()),
        })
    }

    pub fn conn(&self) -> MultiplexedConnection {
        self.current.read().unwrap().conn.clone()
    }

    pub fn generation(&self) -> u64 {
        self.generation.load(Ordering::Acquire)
    }

    /// A new connection to the current master for blocking commands (no response
    /// timeout: the command's own timeout bounds it).
    pub async fn blocking(&self) -> redis::RedisResult<MultiplexedConnection> {
        let client = self.current.read().unwrap().client.clone();
        let cfg = AsyncConnectionConfig::new().set_connection_timeout(CONNECT_TIMEOUT);
        let mut c = client
            .get_multiplexed_async_connection_with_config(&cfg)
            .await?;
        check_master(&mut c).await?;
        Ok(c)
    }

    /// After an error: look the master up again in the background (once at a time).
    pub fn on_error(self: &Arc<Self>, e: &redis::RedisError) {
        if needs_failover(e) {
            self.re_resolve();
        }
    }

    /// Asks the sentinels every `WATCH` who the master is, and follows a change at once:
    /// after `SENTINEL FAILOVER` the old master keeps accepting writes for seconds
    /// until the sentinels demote it, and those writes are lost.
    pub fn watch(self: &Arc<Self>) {
        let Ok(rt) = tokio::runtime::Handle::try_current() else {
            return;
        };
        let weak = Arc::downgrade(self);
        rt.spawn(async move {
            let mut conn: Option<MultiplexedConnection> = None;
            let mut at = 0;
            loop {
                tokio::time::sleep(WATCH).await;
                let Some(me) = weak.upgrade() else { return };
                if conn.is_none() {
                    at = (at + 1) % me.target.sentinels.len();
                    conn = sentinel_conn(&me.target.sentinels[at], &me.auth).await.ok();
                }
                let Some(c) = conn.as_mut() else { continue };
                let named: redis::RedisResult<Option<(String, u16)>> = redis::cmd("SENTINEL")
                    .arg("get-master-addr-by-name")
                    .arg(&me.target.master)
                    .query_async(c)
                    .await;
                match named {
                    Ok(Some((h, p))) => {
                        let named = format!("{h}:{p}");
                        if named != me.current.read().unwrap().master {
                            tracing::warn!(master = %named, "the sentinels name a new master");
                            me.re_resolve();
                        }
                    }
                    Ok(None) => {}
                    Err(_) => conn = None,
                }
            }
        });
    }

    /// Looks the master up again in the background (once at a time).
    pub fn re_resolve(self: &Arc<Self>) {
        if self.swapped_at.lock().unwrap().elapsed() < Duration::from_millis(500) {
            return; // a reply from the connection that was just replaced
        }
        if self.resolving.swap(true, Ordering::AcqRel) {
            return;
        }
        let Ok(rt) = tokio::runtime::Handle::try_current() else {
            self.resolving.store(false, Ordering::Release);
            return;
        };
        let me = self.clone();
        rt.spawn(async move {
            let mut backoff = Backoff::new(Duration::from_millis(100), Duration::from_secs(1));
            loop {
                match resolve(&me.target, &me.auth).await {
                    Ok(cur) => {
                        tracing::warn!(master = %cur.master, name = %me.target.master, "broker follows the Sentinel master");
                        *me.current.write().unwrap() = cur;
                        *me.swapped_at.lock().unwrap() = Instant::now();
                        me.generation.fetch_add(1, Ordering::AcqRel);
                        break;
                    }
                    Err(e) => {
                        let wait = backoff.next_wait();
                        tracing::warn!(error = %e, retry_in = ?wait, "no Sentinel master yet; retrying");
                        tokio::time::sleep(wait).await;
                    }
                }
            }
            me.resolving.store(false, Ordering::Release);
        });
    }
}

async fn sentinel_conn(
    (h, p): &(String, u16),
    auth: &SentinelAuth,
) -> redis::RedisResult<MultiplexedConnection> {
    let info = ConnectionInfo {
        addr: ConnectionAddr::Tcp(h.clone(), *p),
        redis: RedisConnectionInfo {
            username: auth.username.clone(),
            password: auth.password.clone(),
            ..Default::default()
        },
    };
    let cfg = AsyncConnectionConfig::new()
        .set_connection_timeout(CONNECT_TIMEOUT)
        .set_response_timeout(CONNECT_TIMEOUT);
    redis::Client::open(info)?
        .get_multiplexed_async_connection_with_config(&cfg)
        .await
}

/// Fails unless the server on `c` says it is a master (`ROLE`).
async fn check_master(c: &mut MultiplexedConnection) -> redis::RedisResult<()> {
    match redis::cmd("ROLE").query_async::<redis::Role>(c).await? {
        redis::Role::Primary { .. } => Ok(()),
        _ => Err(redis::RedisError::from((
            redis::ErrorKind::ReadOnly,
            "READONLY",
            "the server the sentinels named is not a master (yet)".to_string(),
        ))),
    }
}

async fn resolve(target: &SentinelUrl, auth: &SentinelAuth) -> redis::RedisResult<Current> {
    let timed_out = || {
        redis::RedisError::from(std::io::Error::new(
            std::io::ErrorKind::TimedOut,
            "timed out resolving the master through the sentinels",
        ))
    };
    tokio::time::timeout(RESOLVE_TIMEOUT, resolve_once(target, auth))
        .await
        .map_err(|_| timed_out())?
}

async fn resolve_once(target: &SentinelUrl, auth: &SentinelAuth) -> redis::RedisResult<Current> {
    let sentinels: Vec<ConnectionInfo> = target
        .sentinels
        .iter()
        .map(|(h, p)| ConnectionInfo {
            addr: ConnectionAddr::Tcp(h.clone(), *p),
            redis: RedisConnectionInfo {
                username: auth.username.clone(),
                password: auth.password.clone(),
                ..Default::default()
            },
        })
        .collect();
    let node = SentinelNodeConnectionInfo {
        tls_mode: None,
        redis_connection_info: Some(RedisConnectionInfo {
            db: target.db,
            username: target.username.clone(),
            password: target.password.clone(),
            ..Default::default()
        }),
    };
    let mut sentinel = Sentinel::build(sentinels)?;
    let client = sentinel
        .async_master_for(&target.master, Some(&node))
        .await?;
    let master = match &client.get_connection_info().addr {
        ConnectionAddr::Tcp(h, p) => format!("{h}:{p}"),
        other => other.to_string(),
    };
    let cfg = AsyncConnectionConfig::new()
        .set_connection_timeout(CONNECT_TIMEOUT)
        .set_response_timeout(Duration::from_secs(10));
    let mut conn = client
        .get_multiplexed_async_connection_with_config(&cfg)
        .await?;
    check_master(&mut conn).await?;
    Ok(Current {
        conn,
        client,
        master,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_hosts_master_db_and_credentials() {
        let u = parse("redis+sentinel://ciq:p%40ss@a:26379,b:26380/mymaster/2").unwrap();
        assert_eq!(u.sentinels, vec![("a".into(), 26379), ("b".into(), 26380)]);
        assert_eq!(u.master, "mymaster");
        assert_eq!(u.db, 2);
        assert_eq!(u.username.as_deref(), Some("ciq"));
        assert_eq!(u.password.as_deref(), Some("p@ss"));
        let u = parse("redis+sentinel://h/m").unwrap();
        assert_eq!((u.sentinels[0].1, u.db, u.password), (26379, 0, None));
    }

    #[test]
    fn bad_urls_are_refused_without_the_password() {
        for bad in [
            "redis+sentinel://u:secret@h:1",
            "redis+sentinel://u:secret@/m",
            "redis+sentinel://u:secret@h:x/m",
            "redis+sentinel://u:secret@h:1/m/zero",
        ] {
            let e = parse(bad).unwrap_err();
            assert!(!e.contains("secret"), "{e}");
        }
    }
}
