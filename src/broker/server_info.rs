//! What the Redis server says about itself: `INFO` (one server, or every node of a
//! cluster) and, on Redis Cluster, each node's role, slots and reachability.

pub use super::cluster::NodeStatus;
use super::{Broker, Result};
use serde::{Deserialize, Serialize};

/// What `INFO` says about the Redis server.
#[derive(Debug, Clone, Serialize, Deserialize, Default)]
pub struct ServerInfo {
    pub version: String,
    pub used_memory_human: String,
    pub aof_enabled: bool,
    /// Bytes in use, and the limit (0 = none).
    #[serde(default)]
    pub used_memory: u64,
    #[serde(default)]
    pub maxmemory: u64,
    /// `noeviction` keeps every task; any other policy may delete queued tasks silently.
    #[serde(default)]
    pub maxmemory_policy: String,
    /// Replicas connected to this master (`INFO replication`; on a cluster, the most any
    /// master has). Not shown: only the worker's start-up check reads it.
    #[serde(skip)]
    pub connected_replicas: u32,
}

impl ServerInfo {
    /// A policy other than `noeviction`: Redis may delete keys (queued tasks) to make room.
    pub fn evicting(&self) -> bool {
        !self.maxmemory_policy.is_empty() && self.maxmemory_policy != "noeviction"
    }

    /// Share of `maxmemory` in use; None without a limit.
    pub fn memory_used_ratio(&self) -> Option<f64> {
        (self.maxmemory > 0).then(|| self.used_memory as f64 / self.maxmemory as f64)
    }

    /// Why `min_replicas` does not protect acknowledged writes here, or None. WAIT N is met
    /// by any N replicas, and Sentinel may promote one that lacks the write: with more
    /// replicas than `min_replicas`, a failover can lose an acknowledged enqueue or outcome
    /// (the Sentinel soak lost two with two replicas and `min_replicas = 1`).
    pub fn replicas_beyond_min(&self, min_replicas: u32) -> Option<String> {
        (min_replicas > 0 && self.connected_replicas > min_replicas).then(|| {
            format!(
                "the Redis master has {} replicas but min_replicas = {min_replicas}: a failover may promote a replica without an acknowledged write; set [broker] min_replicas = {}",
                self.connected_replicas, self.connected_replicas
            )
        })
    }

    /// At the limit under `noeviction`: every write (enqueue, heartbeat, outcome) fails.
    pub fn out_of_memory(&self) -> bool {
        !self.evicting() && self.memory_used_ratio().is_some_and(|r| r >= 1.0)
    }
}

impl ServerInfo {
    fn parse(text: &str) -> ServerInfo {
        let field = |k: &str| {
            text.lines()
                .find_map(|l| l.strip_prefix(&format!("{k}:")))
                .unwrap_or("")
                .trim()
                .to_string()
        };
        ServerInfo {
            version: field("redis_version"),
            used_memory_human: field("used_memory_human"),
            aof_enabled: field("aof_enabled") == "1",
            used_memory: field("used_memory").parse().unwrap_or(0),
            maxmemory: field("maxmemory").parse().unwrap_or(0),
            maxmemory_policy: field("maxmemory_policy"),
            connected_replicas: field("connected_slaves").parse().unwrap_or(0),
        }
    }
}

impl Broker {
    /// `INFO` of the server; on Redis Cluster every node answers and the one nearest its
    /// memory limit is shown, with AOF on only when every node has it on.
    pub async fn server_info(&self) -> Result<ServerInfo> {
        let mut c = self.conn();
        let v: redis::Value = redis::cmd("INFO")
            .arg("server")
            .arg("memory")
            .arg("persistence")
            .arg("replication")
            .query_async(&mut c)
            .await
            .map_err(|e| self.err(e))?;
        let texts: Vec<String> = match v {
            redis::Value::Map(nodes) => nodes
                .into_iter()
                .filter_map(|(_, t)| redis::from_redis_value(&t).ok())
                .collect(),
            other => vec![redis::from_redis_value(&other).map_err(|e| self.err(e))?],
        };
        let infos: Vec<ServerInfo> = texts.iter().map(|t| ServerInfo::parse(t)).collect();
        let all_aof = infos.iter().all(|i| i.aof_enabled);
        let replicas = infos
            .iter()
            .map(|i| i.connected_replicas)
            .max()
            .unwrap_or(0);
        let mut worst = infos
            .into_iter()
            .max_by(|a, b| {
                let r = |i: &ServerInfo| i.memory_used_ratio().unwrap_or(0.0);
                r(a).total_cmp(&r(b))
            })
            .unwrap_or_default();
        worst.aof_enabled = all_aof;
        worst.connected_replicas = replicas;
        Ok(worst)
    }

    /// Redis Cluster only: every node with its role, slots and whether it answers now,
    /// and the cluster's state (`ok`/`fail`). None for one Redis or Sentinel.
    pub async fn cluster_nodes(
        &self,
    ) -> Option<std::result::Result<(Vec<NodeStatus>, String), String>> {
        match &self.link {
            super::Link::Cluster { url, .. } => Some(super::cluster::nodes(url).await),
            _ => None,
        }
    }

    /// The Redis server's clock (ms since the epoch): the one clock ciq judges time by.
    pub async fn redis_time(&self) -> Result<u64> {
        let mut c = self.conn();
        let (s, us): (u64, u64) = redis::cmd("TIME")
            .query_async(&mut c)
            .await
            .map_err(|e| self.err(e))?;
        Ok(s * 1000 + us / 1000)
    }
}

#[cfg(test)]
mod tests {
    use super::ServerInfo;

    #[test]
    fn more_replicas_than_min_replicas_is_named_and_the_fix_given() {
        let info =
            ServerInfo::parse("redis_version:7.0.15\r\nrole:master\r\nconnected_slaves:2\r\n");
        assert_eq!(info.connected_replicas, 2);
        let why = info
            .replicas_beyond_min(1)
            .expect("two replicas, min_replicas 1");
        assert!(
            why.contains("2 replicas") && why.contains("min_replicas = 2"),
            "{why}"
        );
        assert_eq!(info.replicas_beyond_min(2), None);
        assert_eq!(
            info.replicas_beyond_min(0),
            None,
            "no min_replicas: nothing promised"
        );
    }
}
