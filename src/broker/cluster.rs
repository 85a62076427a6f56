//! A broker on Redis Cluster: `redis+cluster://[user:pass@]host:port,host:port,…`.
//!
//! The redis crate's async cluster client does the routing: it learns the slot map from
//! any node it can reach, sends each command to the master that owns its key's slot,
//! follows `MOVED` (and refreshes the map) and `ASK` (a slot being migrated), and retries
//! `TRYAGAIN`/`CLUSTERDOWN`. ciq keeps every script and pipeline to one slot: a queue's
//! keys share the `{queue}` hash tag, beat's share `{beat}`, and the few global keys
//! (queue registry, worker registry) are only read or written outside scripts.

use redis::cluster::{ClusterClient, ClusterClientBuilder};
use redis::cluster_async::ClusterConnection;
use std::time::Duration;

pub const SCHEME: &str = "redis+cluster://";

pub fn is_cluster_url(url: &str) -> bool {
    url.starts_with(SCHEME)
}

/// A parsed `redis+cluster://` URL: seed nodes (any reachable one is enough) and
/// credentials shared by every node.
#[derive(Debug, Clone, PartialEq)]
pub struct ClusterUrl {
    pub nodes: Vec<(String, u16)>,
    pub username: Option<String>,
    pub password: Option<String>,
}

/// Parses `redis+cluster://[user:pass@]h:p[,h:p…]` (port defaults to 6379). A cluster
/// has one database, so a `/N` other than `/0` is refused. Errors never repeat the password.
pub fn parse(url: &str) -> Result<ClusterUrl, String> {
    let rest = url
        .strip_prefix(SCHEME)
        .ok_or_else(|| format!("a Cluster broker URL starts with {SCHEME}"))?;
    let (creds, rest) = match rest.rsplit_once('@') {
        Some((c, r)) => (Some(c), r),
        None => (None, rest),
    };
    let (username, password) = match creds {
        Some(c) => match c.split_once(':') {
            Some((u, p)) => (
                (!u.is_empty()).then(|| super::sentinel::pct_decode(u)),
                Some(super::sentinel::pct_decode(p)),
            ),
            None => (
                (!c.is_empty()).then(|| super::sentinel::pct_decode(c)),
                None,
            ),
        },
        None => (None, None),
    };
    let (hosts, db) = match rest.split_once('/') {
        Some((h, d)) => (h, d.trim_end_matches('/')),
        None => (rest, ""),
    };
    if !matches!(db, "" | "0") {
        return Err(format!(
            "a Redis Cluster has only database 0; drop \"/{db}\" from the Cluster broker URL"
        ));
    }
    let mut nodes = Vec::new();
    for h in hosts.split(',').filter(|h| !h.is_empty()) {
        let (host, port) = match h.rsplit_once(':') {
            Some((host, p)) => (
                host,
                p.parse::<u16>()
                    .map_err(|_| format!("bad cluster node port in {h:?}"))?,
            ),
            None => (h, 6379),
        };
        let host = host.trim_start_matches('[').trim_end_matches(']');
        nodes.push((host.to_string(), port));
    }
    if nodes.is_empty() {
        return Err(
            "a Cluster broker URL lists at least one node: redis+cluster://host:7000,host:7001"
                .into(),
        );
    }
    Ok(ClusterUrl {
        nodes,
        username,
        password,
    })
}

/// The client for a parsed URL: routing, redirects and retries are the crate's. A
/// `blocking` client (for `BLMOVE`, `BLPOP`) has no response timeout, so a long wait is
/// never cut short; each of its connections has its own per-node links, so a blocking
/// call stalls nobody else.
pub fn client(u: &ClusterUrl, blocking: bool) -> redis::RedisResult<ClusterClient> {
    let seeds: Vec<String> = u
        .nodes
        .iter()
        .map(|(h, p)| {
            if h.contains(':') {
                format!("redis://[{h}]:{p}")
            } else {
                format!("redis://{h}:{p}")
            }
        })
        .collect();
    let mut b = ClusterClientBuilder::new(seeds)
        .connection_timeout(Duration::from_secs(2))
        .retries(8)
        .min_retry_wait(20)
        .max_retry_wait(1000);
    if !blocking {
        b = b.response_timeout(Duration::from_secs(10));
    }
    if let Some(user) = &u.username {
        b = b.username(user.clone());
    }
    if let Some(pw) = &u.password {
        b = b.password(pw.clone());
    }
    b.build()
}

pub async fn connect(c: &ClusterClient) -> redis::RedisResult<ClusterConnection> {
    c.get_async_connection().await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_nodes_and_credentials() {
        let u = parse("redis+cluster://ciq:p%40ss@a:7000,b:7001,c").unwrap();
        assert_eq!(
            u.nodes,
            vec![("a".into(), 7000), ("b".into(), 7001), ("c".into(), 6379)]
        );
        assert_eq!(u.username.as_deref(), Some("ciq"));
        assert_eq!(u.password.as_deref(), Some("p@ss"));
        assert!(parse("redis+cluster://h:1/0").is_ok());
    }

    #[test]
    fn bad_urls_are_refused_without_the_password() {
        for bad in [
            "redis+cluster://u:secret@",
            "redis+cluster://u:secret@h:x",
            "redis+cluster://u:secret@h:1/3",
        ] {
            let e = parse(bad).unwrap_err();
            assert!(!e.contains("secret"), "{e}");
        }
    }
}
