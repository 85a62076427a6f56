//! A broker on Redis Cluster: `redis+cluster://[user:pass@]host:port,host:port,…`
//! (`rediss+cluster://` for TLS, trusting `broker_ca_file` when the CA is private).
//!
//! The redis crate's async cluster client does the routing: it learns the slot map from
//! any node it can reach, sends each command to the master that owns its key's slot,
//! follows `MOVED` (and refreshes the map) and `ASK` (a slot being migrated), and retries
//! `TRYAGAIN`/`CLUSTERDOWN`. ciq keeps every script and pipeline to one slot: a queue's
//! keys share the `{queue}` hash tag, beat's share `{beat}`, and the few global keys
//! (queue registry, worker registry) are only read or written outside scripts.

use redis::cluster::{ClusterClient, ClusterClientBuilder};
use serde::{Deserialize, Serialize};
use std::time::Duration;

pub const SCHEME: &str = "redis+cluster://";
pub const TLS_SCHEME: &str = "rediss+cluster://";

pub fn is_cluster_url(url: &str) -> bool {
    url.starts_with(SCHEME) || url.starts_with(TLS_SCHEME)
}

/// A parsed `redis+cluster://` URL: seed nodes (any reachable one is enough) and
/// credentials shared by every node.
#[derive(Debug, Clone, PartialEq)]
pub struct ClusterUrl {
    pub nodes: Vec<(String, u16)>,
    pub username: Option<String>,
    pub password: Option<String>,
    /// `rediss+cluster://`: every node over TLS.
    pub tls: bool,
    /// A private CA (PEM) to trust for TLS, from `broker_ca_file`.
    pub ca: Option<Vec<u8>>,
}

/// Parses `redis+cluster://[user:pass@]h:p[,h:p…]` (port defaults to 6379). A cluster
/// has one database, so a `/N` other than `/0` is refused. Errors never repeat the password.
pub fn parse(url: &str) -> Result<ClusterUrl, String> {
    let (rest, tls) = match (url.strip_prefix(SCHEME), url.strip_prefix(TLS_SCHEME)) {
        (Some(r), _) => (r, false),
        (_, Some(r)) => (r, true),
        _ => {
            return Err(format!(
                "a Cluster broker URL starts with {SCHEME} (or {TLS_SCHEME})"
            ))
        }
    };
    let (username, password, rest) = super::url_parts::credentials(rest);
    let (hosts, db) = match rest.split_once('/') {
        Some((h, d)) => (h, d.trim_end_matches('/')),
        None => (rest, ""),
    };
    if !matches!(db, "" | "0") {
        return Err(format!(
            "a Redis Cluster has only database 0; drop \"/{db}\" from the Cluster broker URL"
        ));
    }
    let nodes = super::url_parts::hosts(hosts, 6379, "cluster node")?;
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
        tls,
        ca: None,
    })
}

/// The client for a parsed URL: routing, redirects and retries are the crate's. A
/// `blocking` client (for `BLMOVE`, `BLPOP`) has no response timeout, so a long wait is
/// never cut short; each of its connections has its own per-node links, so a blocking
/// call stalls nobody else.
pub fn client(u: &ClusterUrl, blocking: bool) -> redis::RedisResult<ClusterClient> {
    let scheme = if u.tls { "rediss" } else { "redis" };
    let seeds: Vec<String> = u
        .nodes
        .iter()
        .map(|(h, p)| {
            if h.contains(':') {
                format!("{scheme}://[{h}]:{p}")
            } else {
                format!("{scheme}://{h}:{p}")
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
    if let (true, Some(ca)) = (u.tls, &u.ca) {
        b = b.certs(redis::TlsCertificates {
            client_tls: None,
            root_cert: Some(ca.clone()),
        });
    }
    b.build()
}

/// One node of the cluster as `status` shows it.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct NodeStatus {
    pub addr: String,
    /// master | replica
    pub role: String,
    /// Slot ranges a master serves, e.g. "0-5460" ("" for replicas).
    pub slots: String,
    /// Answered a direct `INFO` just now.
    pub up: bool,
    /// The cluster's own verdict from `CLUSTER NODES` flags (`fail`, `fail?`), if any.
    #[serde(default)]
    pub flagged: Option<String>,
    #[serde(default)]
    pub aof_enabled: Option<bool>,
    #[serde(default)]
    pub error: Option<String>,
}

/// The node table (`CLUSTER NODES`, asked of the first node that answers) and the
/// cluster's state (`cluster_state` of `CLUSTER INFO`), then every node asked directly, so
/// a node that is down is named, not hidden behind the nodes that answer.
pub async fn nodes(u: &ClusterUrl) -> Result<(Vec<NodeStatus>, String), String> {
    let mut table = None;
    let mut last_err = String::new();
    for (h, p) in &u.nodes {
        match direct(u, h, *p).await {
            Ok(mut c) => {
                let nodes: redis::RedisResult<String> =
                    redis::cmd("CLUSTER").arg("NODES").query_async(&mut c).await;
                let info: redis::RedisResult<String> =
                    redis::cmd("CLUSTER").arg("INFO").query_async(&mut c).await;
                match (nodes, info) {
                    (Ok(n), Ok(i)) => {
                        let state = i
                            .lines()
                            .find_map(|l| l.trim().strip_prefix("cluster_state:"))
                            .unwrap_or("?")
                            .to_string();
                        table = Some((n, state));
                        break;
                    }
                    (Err(e), _) | (_, Err(e)) => last_err = format!("{h}:{p}: {e}"),
                }
            }
            Err(e) => last_err = format!("{h}:{p}: {e}"),
        }
    }
    let Some((text, state)) = table else {
        return Err(format!("no cluster node answered ({last_err})"));
    };
    let mut out = vec![];
    for line in text.lines().filter(|l| !l.trim().is_empty()) {
        let f: Vec<&str> = line.split_whitespace().collect();
        if f.len() < 8 || f[2].contains("handshake") || f[2].contains("noaddr") {
            continue;
        }
        let addr = f[1].split('@').next().unwrap_or(f[1]).to_string();
        let flags: Vec<&str> = f[2].split(',').collect();
        let role = if flags.contains(&"master") {
            "master"
        } else {
            "replica"
        };
        let flagged = flags
            .iter()
            .find(|x| **x == "fail" || **x == "fail?")
            .map(|x| x.to_string());
        let mut n = NodeStatus {
            slots: f[8..]
                .iter()
                .filter(|s| !s.starts_with('['))
                .copied()
                .collect::<Vec<_>>()
                .join(" "),
            addr,
            role: role.into(),
            up: false,
            flagged,
            aof_enabled: None,
            error: None,
        };
        let (h, p) = match n.addr.rsplit_once(':') {
            Some((h, p)) => (h.to_string(), p.parse().unwrap_or(0)),
            None => (n.addr.clone(), 0),
        };
        let probe = async {
            let mut c = direct(u, &h, p).await?;
            redis::cmd("INFO")
                .arg("persistence")
                .query_async::<String>(&mut c)
                .await
        };
        match tokio::time::timeout(Duration::from_secs(2), probe).await {
            Ok(Ok(info)) => {
                n.up = true;
                n.aof_enabled = Some(info.lines().any(|l| l.trim() == "aof_enabled:1"));
            }
            Ok(Err(e)) => n.error = Some(e.to_string()),
            Err(_) => n.error = Some("timed out".into()),
        }
        out.push(n);
    }
    out.sort_by(|a, b| (a.role != "master", &a.addr).cmp(&(b.role != "master", &b.addr)));
    Ok((out, state))
}

async fn direct(
    u: &ClusterUrl,
    host: &str,
    port: u16,
) -> redis::RedisResult<redis::aio::MultiplexedConnection> {
    let addr = if u.tls {
        redis::ConnectionAddr::TcpTls {
            host: host.to_string(),
            port,
            insecure: false,
            tls_params: None,
        }
    } else {
        redis::ConnectionAddr::Tcp(host.to_string(), port)
    };
    let info = redis::ConnectionInfo {
        addr,
        redis: redis::RedisConnectionInfo {
            username: u.username.clone(),
            password: u.password.clone(),
            ..Default::default()
        },
    };
    let cfg = redis::AsyncConnectionConfig::new()
        .set_connection_timeout(Duration::from_secs(1))
        .set_response_timeout(Duration::from_secs(2));
    let client = match (&u.ca, u.tls) {
        (Some(ca), true) => redis::Client::build_with_tls(
            info,
            redis::TlsCertificates {
                client_tls: None,
                root_cert: Some(ca.clone()),
            },
        )?,
        _ => redis::Client::open(info)?,
    };
    client
        .get_multiplexed_async_connection_with_config(&cfg)
        .await
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
        assert!(!parse("redis+cluster://h:1").unwrap().tls);
        assert!(parse("rediss+cluster://h:1").unwrap().tls);
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
