//! Redis broker: the only code that talks to Redis about tasks. Nothing outside this
//! module builds a key or sends a script.
//!
//! - Plumbing: `keys` (every key name), `scripts` and `lua/` (one script per atomic
//!   transition), `envelope` (the message format), `conn`, `cluster`, `sentinel`,
//!   `durability` (acknowledged writes), `error`.
//! - A task's life, one file per operation: `enqueue`, `claim` (with lease renewal and
//!   the idle wait), `finish`, `refill` (a batch's outcomes and the claim that refills
//!   its slots in one round trip), `outcome` (what `enqueue --wait` reads), `sweep`,
//!   `promote`, `upkeep` (who sweeps and promotes a queue), `cancel`, `requeue`, `purge`.
//! - Reads: `queues` (depth, pause, counters), `tasks` (a queue's tasks by state),
//!   `history` (each task's record), `window` (the dashboard's lists), `workers`,
//!   `server_info`, `rates`; `beat` and `platform` hold the beat's and the platform
//!   tasks' own state.

pub mod beat;
pub mod cancel;
pub mod claim;
pub mod cluster;
mod conn;
mod durability;
pub mod enqueue;
pub mod envelope;
mod error;
mod fields;
pub mod finish;
pub mod history;
pub mod keys;
pub mod outcome;
pub mod pending;
pub mod platform;
mod promote;
mod purge;
pub mod queues;
pub mod rates;
mod refill;
mod requeue;
mod running;
mod scripts;
pub mod sentinel;
pub mod server_info;
mod sweep;
pub mod tasks;
mod upkeep;
mod url_parts;
pub mod window;
mod workers;

pub use conn::Conn;
pub use durability::BrokerOptions;
pub use envelope::{new_id, now_ms, Envelope};
pub use error::{Error, Result};
pub use keys::QueueKeys;

use crate::backoff::Backoff;
use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use std::sync::Arc;
use std::time::Duration;

/// A cheap-to-clone handle on the broker's shared multiplexed connection: to one Redis
/// (auto-reconnecting) or to whichever server a Sentinel set calls master (followed
/// through failovers).
#[derive(Clone)]
pub struct Broker {
    link: Link,
    /// The URL with any password removed: safe for logs and errors.
    addr: String,
    opts: Arc<BrokerOptions>,
}

#[derive(Clone)]
enum Link {
    Single {
        conn: ConnectionManager,
        client: redis::Client,
    },
    Sentinel(Arc<sentinel::Failover>),
    Cluster {
        conn: redis::cluster_async::ClusterConnection,
        blocking: redis::cluster::ClusterClient,
        url: Arc<cluster::ClusterUrl>,
    },
}

/// CA certificate (PEM) that signs the Redis server's TLS certificate, for `rediss://`
/// brokers with a private CA. Set once at start-up from `broker_ca_file`.
static BROKER_CA: std::sync::OnceLock<Vec<u8>> = std::sync::OnceLock::new();

/// Trust this CA (PEM file) for `rediss://` connections of this process.
pub fn set_broker_ca_file(path: &std::path::Path) -> Result<()> {
    let pem = std::fs::read(path).map_err(|e| {
        Error::Invalid(format!(
            "cannot read broker CA file {}: {e}",
            path.display()
        ))
    })?;
    let _ = BROKER_CA.set(pem);
    Ok(())
}

fn client_for(url: &str, addr: &str) -> Result<redis::Client> {
    // redis-rs says only "Redis URL did not parse- InvalidClientConfig"; say what is expected.
    let bad = |_: redis::RedisError| {
        Error::Invalid(format!(
            "bad broker URL {addr}: expected redis://[user:password@]host[:port][/db], rediss://… for TLS, unix:///path/to/redis.sock, redis+sentinel://host:26379,…/master/db or redis+cluster://host:port,… (rediss+cluster:// for TLS)"
        ))
    };
    match BROKER_CA.get() {
        Some(ca) if url.starts_with("rediss://") => redis::Client::build_with_tls(
            url,
            redis::TlsCertificates {
                client_tls: None,
                root_cert: Some(ca.clone()),
            },
        )
        .map_err(bad),
        _ => redis::Client::open(url).map_err(bad),
    }
}

impl Broker {
    /// Connects once, failing fast (commands): an unreachable Redis is an error at once.
    pub async fn connect(url: &str) -> Result<Broker> {
        Broker::connect_with(url, &BrokerOptions::default()).await
    }

    /// `connect` with the `[broker]` options (Sentinel auth, acknowledged writes).
    pub async fn connect_with(url: &str, opts: &BrokerOptions) -> Result<Broker> {
        let addr = crate::secrets::redact_url(url);
        let opts = Arc::new(opts.clone());
        if cluster::is_cluster_url(url) {
            let mut target = cluster::parse(url)
                .map_err(|m| Error::Invalid(format!("bad broker URL {addr}: {m}")))?;
            target.ca = BROKER_CA.get().cloned();
            let bad = |e: redis::RedisError| Error::Invalid(format!("bad broker URL {addr}: {e}"));
            let client = cluster::client(&target, false).map_err(bad)?;
            let blocking = cluster::client(&target, true).map_err(bad)?;
            let conn = tokio::time::timeout(Duration::from_secs(5), client.get_async_connection())
                .await
                .map_err(|_| Error::Unreachable {
                    addr: addr.clone(),
                    msg: "timed out connecting to the cluster".into(),
                })?
                .map_err(|e| Error::from_redis(&addr, e))?;
            return Ok(Broker {
                link: Link::Cluster {
                    conn,
                    blocking,
                    url: Arc::new(target),
                },
                addr,
                opts,
            });
        }
        if sentinel::is_sentinel_url(url) {
            let target = sentinel::parse(url)
                .map_err(|m| Error::Invalid(format!("bad broker URL {addr}: {m}")))?;
            let f = sentinel::Failover::connect(target, opts.sentinel.clone())
                .await
                .map_err(|e| Error::from_redis(&addr, e))?;
            let f = Arc::new(f);
            f.watch();
            return Ok(Broker {
                link: Link::Sentinel(f),
                addr,
                opts,
            });
        }
        let client = client_for(url, &addr)?;
        let cfg = ConnectionManagerConfig::new()
            .set_connection_timeout(Duration::from_secs(2))
            .set_response_timeout(Duration::from_secs(10))
            .set_number_of_retries(1)
            .set_max_delay(2000);
        let conn = tokio::time::timeout(
            Duration::from_secs(5),
            ConnectionManager::new_with_config(client.clone(), cfg),
        )
        .await
        .map_err(|_| Error::Unreachable {
            addr: addr.clone(),
            msg: "timed out connecting".into(),
        })?
        .map_err(|e| Error::from_redis(&addr, e))?;
        Ok(Broker {
            link: Link::Single { conn, client },
            addr,
            opts,
        })
    }

    /// Connects, retrying with backoff while Redis is unreachable (worker, beat), until it
    /// works or `stop` resolves (then `None`: a stop signal during the wait is honoured).
    pub async fn connect_retrying(
        url: &str,
        opts: &BrokerOptions,
        stop: impl std::future::Future<Output = ()>,
    ) -> Result<Option<Broker>> {
        tokio::pin!(stop);
        let mut backoff = Backoff::new(Duration::from_millis(100), Duration::from_secs(5));
        loop {
            let attempt = tokio::select! {
                r = Broker::connect_with(url, opts) => r,
                _ = &mut stop => return Ok(None),
            };
            match attempt {
                Ok(b) => return Ok(Some(b)),
                Err(e) if e.is_unreachable() => {
                    let wait = backoff.next_wait();
                    tracing::warn!(error = %e, retry_in = ?wait, "broker unreachable; retrying");
                    tokio::select! {
                        _ = tokio::time::sleep(wait) => {},
                        _ = &mut stop => return Ok(None),
                    }
                }
                Err(e) => return Err(e),
            }
        }
    }

    /// Whether one script may touch keys of several queues: yes on one Redis (alone or
    /// under Sentinel); not on Redis Cluster, where each queue has its own hash slot.
    pub fn one_script_spans_queues(&self) -> bool {
        !matches!(self.link, Link::Cluster { .. })
    }

    /// A separate connection for blocking commands (they would stall the shared one).
    /// Under Sentinel it goes to the current master; rebuild it when `generation` moves.
    pub async fn blocking_connection(&self) -> Result<Conn> {
        match &self.link {
            Link::Single { client, .. } => {
                let cfg = ConnectionManagerConfig::new()
                    .set_connection_timeout(Duration::from_secs(2))
                    .set_number_of_retries(1)
                    .set_max_delay(2000);
                ConnectionManager::new_with_config(client.clone(), cfg)
                    .await
                    .map(Conn::Managed)
                    .map_err(|e| self.err(e))
            }
            Link::Sentinel(f) => f
                .blocking()
                .await
                .map(Conn::Direct)
                .map_err(|e| self.err(e)),
            Link::Cluster { blocking, .. } => blocking
                .get_async_connection()
                .await
                .map(Conn::Cluster)
                .map_err(|e| self.err(e)),
        }
    }

    /// Changes each time the broker follows a failover to another master (always 0 for
    /// one Redis): a holder of a blocking connection rebuilds it when this moves.
    pub fn generation(&self) -> u64 {
        match &self.link {
            Link::Single { .. } | Link::Cluster { .. } => 0,
            Link::Sentinel(f) => f.generation(),
        }
    }

    /// True on Redis Cluster: reads that span the keyspace go to every master.
    pub fn is_cluster(&self) -> bool {
        matches!(self.link, Link::Cluster { .. })
    }

    pub fn addr(&self) -> &str {
        &self.addr
    }

    pub fn options(&self) -> &BrokerOptions {
        &self.opts
    }

    pub fn conn(&self) -> Conn {
        match &self.link {
            Link::Single { conn, .. } => Conn::Managed(conn.clone()),
            Link::Sentinel(f) => Conn::Direct(f.conn()),
            Link::Cluster { conn, .. } => Conn::Cluster(conn.clone()),
        }
    }

    /// Maps a Redis error (without secrets); under Sentinel, an error that means the
    /// master moved or died starts a new lookup so the next attempt goes to the new one.
    /// A write was not acknowledged by enough replicas: under Sentinel the master may
    /// have been replaced (a demoted master keeps answering for seconds), so look again.
    pub(crate) fn suspect_master(&self) {
        if let Link::Sentinel(f) = &self.link {
            f.re_resolve();
        }
    }

    pub(crate) fn err(&self, e: redis::RedisError) -> Error {
        if let Link::Sentinel(f) = &self.link {
            f.on_error(&e);
        }
        Error::from_redis(&self.addr, e)
    }

    pub async fn ping(&self) -> Result<()> {
        let mut c = self.conn();
        redis::cmd("PING")
            .query_async::<String>(&mut c)
            .await
            .map(|_| ())
            .map_err(|e| self.err(e))
    }
}
