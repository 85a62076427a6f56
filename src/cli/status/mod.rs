//! `ciq status`: everything an operator needs at a glance, problems first, each with the
//! command that fixes it.

mod health;

use crate::broker::now_ms;
use crate::broker::queues::Depth;
use crate::broker::server_info::NodeStatus;
use crate::broker::server_info::ServerInfo;
use crate::cli::{CliResult, Ctx};
use crate::config::parse_duration;
use crate::output;
use crate::secrets::redact_url;
use health::{problem, Problem};
use serde::{Deserialize, Serialize};
use std::process::ExitCode;

/// One screen: broker, workers, beat leader, queues, dead tasks, problems first.
///
/// Exits 0 when nothing is CRITICAL, 9 when a CRITICAL problem is reported (an evicting
/// Redis, a queue waiting for a worker, …), 3 when Redis or part of it cannot be read.
/// With --watch the last screen decides.
#[derive(Debug, clap::Args)]
pub struct StatusArgs {
    /// Refresh every DURATION (at least 500ms) in place, e.g. 2s. Needs a terminal, or
    /// --count to stop after N screens.
    #[arg(long, value_name = "DURATION")]
    pub watch: Option<String>,
    /// With --watch: stop after this many screens (allows --watch without a terminal).
    #[arg(long, value_name = "N", requires = "watch", value_parser = clap::value_parser!(u64).range(1..))]
    pub count: Option<u64>,
    /// A pending task older than this is a problem.
    #[arg(long, value_name = "DURATION", default_value = "15m")]
    pub stuck_after: String,
}

/// `status --json` (stable schema).
#[derive(Debug, Serialize, Deserialize)]
pub struct Status {
    pub broker: BrokerStatus,
    pub workers: Vec<WorkerStatus>,
    pub beat: Option<BeatStatus>,
    pub queues: Vec<Depth>,
    pub problems: Vec<Problem>,
    /// The platform: mode, shadow evidence, the last cron-guard decision (when configured).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub platform: Option<PlatformStatus>,
}

#[derive(Debug, Serialize, Deserialize)]
pub struct PlatformStatus {
    /// active | shadow | null (the flag cannot be read)
    pub mode: Option<String>,
    pub shadow: crate::broker::platform::ShadowEvidence,
    pub shadow_summary: String,
    /// The last `ciq cron-guard` decision: {"at_ms", "action", "detail"}.
    pub cron_guard: Option<serde_json::Value>,
}

#[derive(Debug, Serialize, Deserialize)]
pub struct BrokerStatus {
    pub url: String,
    pub reachable: bool,
    pub info: Option<ServerInfo>,
    /// Why the broker cannot be read in full (unreachable, a cluster node down, a queue
    /// that cannot be read); `status` then exits with the broker exit code.
    pub error: Option<String>,
    /// Redis Cluster: every node, and the cluster's own state (`ok`/`fail`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub nodes: Vec<NodeStatus>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cluster_state: Option<String>,
}

#[derive(Debug, Serialize, Deserialize)]
pub struct WorkerStatus {
    pub id: String,
    pub host: String,
    pub pid: u64,
    pub queues: Vec<String>,
    pub concurrency: u64,
    pub busy: u64,
    pub last_heartbeat_s: f64,
    pub alive: bool,
    /// What the worker reports is stopping it (e.g. an ACL permission it lacks).
    #[serde(default)]
    pub problem: Option<String>,
    /// The worker's clock minus the Redis server's, as it last measured (ms).
    #[serde(default)]
    pub clock_skew_ms: i64,
}

#[derive(Debug, Serialize, Deserialize)]
pub struct BeatStatus {
    pub holder: String,
    pub since_ms: u64,
}

pub async fn collect(ctx: &Ctx, stuck_after_s: f64) -> Status {
    let url = redact_url(&ctx.config.broker.value);
    let broker = match ctx.broker().await {
        Ok(b) => b,
        Err(e) => {
            return Status {
                broker: BrokerStatus {
                    url,
                    reachable: false,
                    info: None,
                    error: Some(e.msg.clone()),
                    nodes: vec![],
                    cluster_state: None,
                },
                workers: vec![],
                beat: None,
                queues: vec![],
                platform: None,
                problems: vec![problem(
                    "critical",
                    format!("Redis is unreachable: {}", e.msg),
                    "start it (systemctl start redis-server) or fix --broker / CIQ_BROKER",
                )],
            }
        }
    };
    let mut problems = vec![];
    // Heartbeats are stamped on Redis's clock; judge them by it too.
    let now = broker.redis_time().await.unwrap_or_else(|_| now_ms());
    let info = broker.server_info().await.ok();
    if info.as_ref().is_some_and(|i| !i.aof_enabled) && !broker.is_cluster() {
        problems.push(problem(
            "warning",
            "Redis runs without AOF: a Redis restart loses every queued task".into(),
            "redis-cli CONFIG SET appendonly yes (and appendonly yes in redis.conf)",
        ));
    }
    if let Some(i) = &info {
        problems.extend(health::replication(i, broker.min_replicas()));
        problems.extend(health::memory(i));
    }
    let mut broken: Vec<String> = vec![];
    let (nodes, cluster_state) = match broker.cluster_nodes().await {
        None => (vec![], None),
        Some(Ok((nodes, state))) => {
            // Only what stops reading or writing makes `status` fail; warnings (a node
            // without AOF, a node flagged `fail?`) do not.
            for p in health::cluster(&nodes, &state) {
                if p.severity == "critical" {
                    broken.push(p.message.clone());
                }
                problems.push(p);
            }
            (nodes, Some(state))
        }
        Some(Err(e)) => {
            unreadable(
                &mut broken,
                &mut problems,
                format!("cannot read the cluster's node table: {e}"),
                "check the cluster nodes (redis-cli --cluster check HOST:PORT)",
            );
            (vec![], None)
        }
    };
    // A worker heartbeats every few seconds; three missed beats means it is gone.
    let stale_ms = ctx.config.worker.heartbeat.as_millis() * 3 + 2000;
    let workers: Vec<WorkerStatus> = broker
        .workers(now, 24 * 3600 * 1000)
        .await
        .unwrap_or_default()
        .into_iter()
        .map(|(id, info, at)| {
            let v: serde_json::Value = serde_json::from_str(&info).unwrap_or_default();
            let age = now.saturating_sub(at);
            WorkerStatus {
                host: v["host"].as_str().unwrap_or("?").into(),
                pid: v["pid"].as_u64().unwrap_or(0),
                queues: v["queues"]
                    .as_array()
                    .map(|a| {
                        a.iter()
                            .filter_map(|q| q.as_str().map(String::from))
                            .collect()
                    })
                    .unwrap_or_default(),
                concurrency: v["concurrency"].as_u64().unwrap_or(0),
                busy: v["busy"].as_u64().unwrap_or(0),
                last_heartbeat_s: age as f64 / 1000.0,
                alive: age <= stale_ms,
                problem: v["problem"].as_str().map(String::from),
                clock_skew_ms: v["clock_skew_ms"].as_i64().unwrap_or(0),
                id,
            }
        })
        .collect();
    if !workers.iter().any(|w| w.alive) {
        problems.push(health::no_worker(info.as_ref()));
    }
    problems.extend(reported(&workers));
    for w in workers.iter().filter(|w| !w.alive) {
        problems.push(problem(
            "warning",
            format!(
                "worker {} has not sent a heartbeat for {}",
                w.id,
                output::age(w.last_heartbeat_s)
            ),
            "its tasks are recovered when their leases expire; check the host",
        ));
    }
    for w in workers
        .iter()
        .filter(|w| w.alive && w.clock_skew_ms.abs() > crate::worker::CLOCK_SKEW_WARN_MS)
    {
        problems.push(problem(
            "warning",
            format!(
                "worker {}'s clock is {:.1} s {} the Redis server's",
                w.id,
                w.clock_skew_ms.abs() as f64 / 1000.0,
                if w.clock_skew_ms > 0 { "ahead of" } else { "behind" }
            ),
            "sync that host's clock (chrony or systemd-timesyncd); leases and schedules follow Redis's clock, but its logs' times are off",
        ));
    }
    let beat = broker
        .beat_leader_raw()
        .await
        .ok()
        .flatten()
        .and_then(|raw| serde_json::from_str::<serde_json::Value>(&raw).ok())
        .map(|v| BeatStatus {
            holder: v["holder"].as_str().unwrap_or("?").into(),
            since_ms: v["since_ms"].as_u64().unwrap_or(0),
        });
    if beat.is_none() {
        problems.push(problem(
            "warning",
            "no beat holds the leader lease: periodic tasks are not being scheduled".into(),
            "systemctl start ciq-beat   (or: ciq beat)",
        ));
    }
    let (queues, unread) = crate::cli::depth::read::depths_each(&broker, ctx, &[]).await;
    for (q, e) in unread {
        unreadable(
            &mut broken,
            &mut problems,
            format!("cannot read queue {q}: {e}"),
            "check that every Redis node is up (ciq status --json lists them)",
        );
    }
    for d in &queues {
        if d.paused {
            problems.push(problem(
                "warning",
                format!("queue {} is paused ({} pending)", d.queue, d.pending),
                &format!("ciq resume {}", d.queue),
            ));
        }
        if let Some(age) = d.oldest_pending_age_s.filter(|a| *a > stuck_after_s) {
            problems.push(problem(
                "critical",
                format!(
                    "queue {} has waited {} for a worker",
                    d.queue,
                    output::age(age)
                ),
                "add workers or raise --concurrency; see ciq inspect active",
            ));
        }
        if d.dead > 0 {
            problems.push(problem(
                "warning",
                format!("{} dead task(s) in {}", d.dead, d.queue),
                &format!(
                    "ciq inspect dead --queue {0}; ciq requeue --dead --all --queue {0}",
                    d.queue
                ),
            ));
        }
    }
    let platform = platform_status(ctx, &broker, &mut problems).await;
    problems.sort_by_key(|p| p.severity != "critical");
    Status {
        platform,
        broker: BrokerStatus {
            url,
            reachable: true,
            info,
            error: (!broken.is_empty()).then(|| broken.join("; ")),
            nodes,
            cluster_state,
        },
        workers,
        beat,
        queues,
        problems,
    }
}

/// Problems workers put in their heartbeat (e.g. Redis refusing their commands).
fn reported(workers: &[WorkerStatus]) -> Vec<Problem> {
    workers
        .iter()
        .filter(|w| w.alive)
        .filter_map(|w| {
            w.problem.as_ref().map(|p| {
                problem(
                    "critical",
                    format!("worker {} cannot work: {p}", w.id),
                    "fix the Redis ACL rules or password for the worker's user (README, \"Redis ACL user\")",
                )
            })
        })
        .collect()
}

/// Part of the broker cannot be read: a critical problem, and `status` exits 3.
fn unreadable(broken: &mut Vec<String>, problems: &mut Vec<Problem>, msg: String, fix: &str) {
    broken.push(msg.clone());
    problems.push(problem("critical", msg, fix));
}

async fn platform_status(
    ctx: &Ctx,
    broker: &crate::broker::Broker,
    problems: &mut Vec<Problem>,
) -> Option<PlatformStatus> {
    if !ctx.config.platform.configured() {
        return None;
    }
    let mode = match crate::platform::mode::effective(&ctx.config) {
        Ok(m) => Some(format!("{m:?}").to_lowercase()),
        Err(e) => {
            problems.push(problem(
                "critical",
                e,
                "fix the flag in config.py or set [platform] mode",
            ));
            None
        }
    };
    let shadow = broker.shadow_evidence().await.unwrap_or_default();
    Some(PlatformStatus {
        mode,
        shadow_summary: shadow.summary(),
        shadow,
        cron_guard: broker
            .guard_last()
            .await
            .ok()
            .flatten()
            .and_then(|j| serde_json::from_str(&j).ok()),
    })
}

fn render(s: &Status) -> String {
    let mut out = String::new();
    if s.problems.is_empty() {
        out.push_str("OK: no problems\n");
    }
    for p in &s.problems {
        out.push_str(&format!(
            "{}: {}\n    fix: {}\n",
            p.severity.to_uppercase(),
            p.message,
            p.fix
        ));
    }
    out.push('\n');
    match &s.broker.info {
        Some(i) => out.push_str(&format!(
            "broker   {} (Redis {}, {} used, AOF {})\n",
            s.broker.url,
            i.version,
            i.used_memory_human,
            if i.aof_enabled { "on" } else { "off" }
        )),
        None => out.push_str(&format!(
            "broker   {} ({})\n",
            s.broker.url,
            if s.broker.reachable {
                "reachable"
            } else {
                "UNREACHABLE"
            }
        )),
    }
    if let Some(state) = &s.broker.cluster_state {
        out.push_str(&format!("cluster  state {state}\n"));
        for n in &s.broker.nodes {
            out.push_str(&format!(
                "  {:<21} {:<7} {:<13} {}\n",
                n.addr,
                n.role,
                n.slots,
                if n.up { "up" } else { "DOWN" }
            ));
        }
    }
    match &s.beat {
        Some(b) => out.push_str(&format!(
            "beat     leader {} since {}\n",
            b.holder,
            output::ts(b.since_ms)
        )),
        None => out.push_str("beat     no leader\n"),
    }
    out.push_str(&format!(
        "workers  {} alive\n",
        s.workers.iter().filter(|w| w.alive).count()
    ));
    for w in &s.workers {
        let (id, pid, host, busy, max) = (&w.id, w.pid, &w.host, w.busy, w.concurrency);
        let queues = w.queues.join(",");
        let seen = output::age(w.last_heartbeat_s);
        let stale = if w.alive { "" } else { "  (STALE)" };
        out.push_str(&format!(
            "  {id} pid {pid} on {host}  busy {busy}/{max}  queues {queues}  heartbeat {seen} ago{stale}\n"
        ));
    }
    if !s.queues.is_empty() {
        out.push_str("queues\n");
        for d in &s.queues {
            let oldest = d.oldest_pending_age_s.map(output::age);
            out.push_str(&format!(
                "  {:<16} pending {:>6}  active {:>4}  scheduled {:>4}  retry {:>4}  dead {:>4}  oldest {:>7}{}\n",
                d.queue, d.pending, d.active, d.scheduled, d.retry, d.dead,
                oldest.as_deref().unwrap_or("-"),
                if d.paused { "  PAUSED" } else { "" }
            ));
        }
    }
    out
}

/// 3 when Redis (or part of it) cannot be read, else 9 when a CRITICAL problem is
/// reported, else 0: a script or a monitor can act on the code alone.
fn exit_code(s: &Status) -> ExitCode {
    if !s.broker.reachable || s.broker.error.is_some() {
        ExitCode::from(crate::cli::Kind::Broker as u8)
    } else if s.problems.iter().any(|p| p.severity == "critical") {
        ExitCode::from(crate::cli::Kind::Critical as u8)
    } else {
        ExitCode::SUCCESS
    }
}

pub async fn run(a: StatusArgs, ctx: &Ctx) -> CliResult<ExitCode> {
    let stuck = parse_duration(&a.stuck_after)
        .map_err(|e| crate::cli::CliError::usage(format!("--stuck-after: {e}")))?
        .as_secs_f64();
    let watch = health::watch_interval(a.watch.as_deref(), a.count)?;
    let mut left = a.count;
    loop {
        let s = collect(ctx, stuck).await;
        if ctx.json {
            output::json(&s);
        } else {
            let text = render(&s);
            if watch.is_some() && output::stdout_is_tty() {
                // Clear the screen and redraw in place.
                output::print_line(&format!("\x1b[H\x1b[2J{}", text.trim_end()));
            } else {
                output::print_line(text.trim_end());
            }
        }
        left = left.map(|n| n - 1);
        match watch {
            Some(d) if left != Some(0) => tokio::time::sleep(d).await,
            _ => {
                return Ok(exit_code(&s));
            }
        }
    }
}
