//! `status` problems (`Problem`: what is wrong and its fix) that Redis itself shows: an
//! evicting policy (queued tasks may vanish), memory near or at `maxmemory` (writes,
//! heartbeats included, fail), an unhealthy cluster, and no worker alive.

use crate::broker::server_info::ServerInfo;
use serde::{Deserialize, Serialize};

#[derive(Debug, Serialize, Deserialize)]
pub struct Problem {
    pub severity: String,
    pub message: String,
    pub fix: String,
}

pub(super) fn problem(severity: &str, message: String, fix: &str) -> Problem {
    Problem {
        severity: severity.into(),
        message,
        fix: fix.into(),
    }
}

fn mb(bytes: u64) -> String {
    format!("{:.1} MB", bytes as f64 / 1_048_576.0)
}

/// Memory and eviction problems from `INFO`.
pub fn memory(info: &ServerInfo) -> Vec<Problem> {
    let mut out = vec![];
    if info.evicting() {
        out.push(problem(
            "critical",
            format!(
                "Redis may evict keys (maxmemory-policy {}): queued tasks can be deleted without a trace",
                info.maxmemory_policy
            ),
            "redis-cli CONFIG SET maxmemory-policy noeviction (and maxmemory-policy noeviction in redis.conf)",
        ));
    }
    match info.memory_used_ratio() {
        Some(_) if info.out_of_memory() => out.push(problem(
            "critical",
            format!(
                "Redis is out of memory ({} used of maxmemory {}): every write fails — enqueues, outcomes and worker heartbeats",
                mb(info.used_memory),
                mb(info.maxmemory)
            ),
            "raise maxmemory (redis-cli CONFIG SET maxmemory …) or free memory: ciq purge --state dead QUEUE",
        )),
        Some(r) if r >= 0.9 => out.push(problem(
            "warning",
            format!(
                "Redis memory is at {:.0}% of maxmemory ({} of {})",
                r * 100.0,
                mb(info.used_memory),
                mb(info.maxmemory)
            ),
            "raise maxmemory or look for a growing queue: ciq depth",
        )),
        _ => {}
    }
    out
}

/// More replicas than `[broker] min_replicas`: `WAIT N` is met by any N of them, and a
/// failover may promote one without an acknowledged write.
pub fn replication(info: &ServerInfo, min_replicas: u32) -> Option<Problem> {
    info.replicas_beyond_min(min_replicas).map(|why| {
        problem(
            "critical",
            why,
            "set [broker] min_replicas to the number of replicas the sentinels may promote",
        )
    })
}

/// "No worker is alive", unless Redis being out of memory explains the silence.
pub fn no_worker(info: Option<&ServerInfo>) -> Problem {
    if info.is_some_and(ServerInfo::out_of_memory) {
        return problem(
            "critical",
            "no worker heartbeat: Redis is out of memory, so workers cannot write them (workers may still be running)".into(),
            "free memory first (see above); heartbeats resume by themselves",
        );
    }
    problem(
        "critical",
        "no worker is alive: nothing will run".into(),
        "systemctl start ciq-worker   (or: ciq work)",
    )
}

/// The shortest `--watch` interval: below it a screen cannot be read and Redis is polled
/// for nothing.
const WATCH_MIN: std::time::Duration = std::time::Duration::from_millis(500);

/// Checks `--watch` (and `--count`): an interval of at least 500ms, and a terminal to
/// redraw on unless `--count` bounds the output.
pub fn watch_interval(
    watch: Option<&str>,
    count: Option<u64>,
) -> crate::cli::CliResult<Option<std::time::Duration>> {
    let Some(w) = watch else {
        return Ok(None);
    };
    let usage = |m: String| crate::cli::CliError::usage(format!("--watch: {m}"));
    let d = crate::config::parse_duration(w).map_err(usage)?;
    crate::config::checks::within(d, WATCH_MIN, crate::config::checks::KNOB_MAX).map_err(usage)?;
    if count.is_none() && !crate::output::stdout_is_tty() {
        return Err(usage(
            "stdout is not a terminal; add --count N to print N screens".into(),
        ));
    }
    Ok(Some(d))
}

/// Redis Cluster problems: a node that does not answer or that the cluster marks failed,
/// and a cluster whose state is not `ok` (some slots are not served).
pub fn cluster(nodes: &[crate::broker::server_info::NodeStatus], state: &str) -> Vec<Problem> {
    let mut out = vec![];
    if state != "ok" {
        out.push(problem(
            "critical",
            format!("the Redis Cluster's state is {state}: some slots are not served, so some queues cannot be used"),
            "redis-cli --cluster check HOST:PORT; bring the failed masters back or fail over to their replicas",
        ));
    }
    for n in nodes {
        let what = if n.role == "master" {
            format!(
                "master of slots {}",
                if n.slots.is_empty() { "none" } else { &n.slots }
            )
        } else {
            "replica".to_string()
        };
        if !n.up {
            out.push(problem(
                "critical",
                format!(
                    "cluster node {} ({what}) is unreachable: {}",
                    n.addr,
                    n.error.as_deref().unwrap_or("no answer")
                ),
                "start that redis-server, or let the cluster fail over to its replica",
            ));
        } else if let Some(f) = &n.flagged {
            out.push(problem(
                "warning",
                format!(
                    "cluster node {} ({what}) is flagged {f} by the cluster",
                    n.addr
                ),
                "redis-cli --cluster check HOST:PORT",
            ));
        }
        if n.up && n.aof_enabled == Some(false) {
            out.push(problem(
                "warning",
                format!(
                    "cluster node {} runs without AOF: its restart loses the tasks it holds",
                    n.addr
                ),
                "CONFIG SET appendonly yes on that node (and in its redis.conf)",
            ));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_names_more_replicas_than_min_replicas_as_critical() {
        let info = ServerInfo {
            connected_replicas: 2,
            ..Default::default()
        };
        let p = replication(&info, 1).expect("two replicas, min_replicas 1");
        assert_eq!(p.severity, "critical");
        assert!(p.message.contains("2 replicas"), "{}", p.message);
        assert!(replication(&info, 2).is_none());
        assert!(replication(&info, 0).is_none());
    }
}
