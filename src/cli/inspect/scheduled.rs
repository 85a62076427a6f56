//! `ciq inspect scheduled`: everything that will run later — periodic entries with
//! their last and next run and which beat leads, and delayed or retrying tasks.

use crate::broker::now_ms;
use crate::broker::tasks::State;
use crate::cli::{CliResult, Ctx};
use crate::output;
use serde::Serialize;
use std::process::ExitCode;

#[derive(Debug, clap::Args)]
pub struct ScheduledArgs {
    /// Only delayed/retrying tasks of this queue.
    #[arg(long)]
    pub queue: Option<String>,
    /// At most this many delayed and this many retrying tasks per queue (soonest first).
    #[arg(long, default_value_t = 100)]
    pub limit: usize,
    /// Also list each entry's N most recent fires (fire time, task id, holder, late).
    #[arg(long, value_name = "N", default_value_t = 0)]
    pub history: usize,
}

/// `inspect scheduled --json` (stable schema; times are RFC 3339 UTC plus epoch ms).
#[derive(Debug, Serialize)]
pub struct ScheduledView {
    /// The beat holding the leader lease; null when no beat runs.
    pub leader: Option<LeaderRow>,
    /// Every beat seen recently (leader and standbys), most recent first.
    pub beats: Vec<BeatRow>,
    pub periodic: Vec<PeriodicRow>,
    pub delayed: Vec<DelayedRow>,
}

#[derive(Debug, Serialize)]
pub struct LeaderRow {
    pub holder: String,
    pub since: String,
    pub since_ms: u64,
    pub token: u64,
    pub expires_in_ms: u64,
}

#[derive(Debug, Serialize)]
pub struct BeatRow {
    pub id: String,
    /// "leader" or "standby".
    pub role: String,
    pub last_seen: String,
    pub last_seen_ms: u64,
}

#[derive(Debug, Serialize)]
pub struct PeriodicRow {
    pub name: String,
    pub task: String,
    pub queue: String,
    pub schedule: String,
    pub catch_up: String,
    /// Null until a beat has seen the entry.
    pub next_run: Option<String>,
    pub next_run_ms: Option<u64>,
    pub last_run: Option<String>,
    pub last_run_ms: Option<u64>,
    pub last_task_id: Option<String>,
    /// done, failed, pending, unknown; null before the first fire.
    pub last_outcome: Option<String>,
    pub consecutive_failures: u64,
    /// Most recent fires first; empty unless `--history N`.
    pub history: Vec<FireRow>,
}

#[derive(Debug, Serialize)]
pub struct FireRow {
    pub fire_time: String,
    pub fire_ms: u64,
    pub fired_at_ms: u64,
    pub task_id: String,
    /// The task's unique key was still held by an earlier run: nothing new was queued.
    pub duplicate: bool,
    /// Fired after its time (catch-up or failover).
    pub late: bool,
    pub holder: String,
}

#[derive(Debug, Serialize)]
pub struct DelayedRow {
    pub id: String,
    pub task: String,
    pub queue: String,
    /// "scheduled" (ETA/countdown) or "retry" (waiting for its next attempt).
    pub state: String,
    pub due: String,
    pub due_ms: u64,
    pub attempt: u32,
    pub last_error: Option<String>,
}

pub async fn run(a: ScheduledArgs, ctx: &Ctx) -> CliResult<ExitCode> {
    let broker = ctx.broker().await?;
    let view = build(&broker, &ctx.config, &a).await?;
    if ctx.json {
        output::json(&view);
    } else {
        print_tables(&view);
    }
    Ok(ExitCode::SUCCESS)
}

/// The view `inspect scheduled --json` prints (also `ciq web`'s beat page and API).
pub async fn build(
    broker: &crate::broker::Broker,
    cfg: &crate::config::Config,
    a: &ScheduledArgs,
) -> CliResult<ScheduledView> {
    let leader = broker.beat_leader().await?.map(|l| LeaderRow {
        since: output::ts(l.since_ms),
        holder: l.holder,
        since_ms: l.since_ms,
        token: l.token,
        expires_in_ms: l.ttl_ms,
    });
    let now = now_ms();
    let window = cfg.beat.lease.as_millis().saturating_mul(3);
    let beats = broker
        .beats_seen(now, window)
        .await?
        .into_iter()
        .map(|(id, at)| BeatRow {
            role: if leader.as_ref().is_some_and(|l| l.holder == id) {
                "leader".into()
            } else {
                "standby".into()
            },
            id,
            last_seen: output::ts(at),
            last_seen_ms: at,
        })
        .collect();
    let entries =
        crate::beat::entries(cfg, cfg.beat.lease.0).map_err(crate::cli::CliError::usage)?;
    let mut periodic = vec![];
    for e in entries {
        let st = broker.beat_entry(&e.name).await?;
        let history = match a.history {
            0 => vec![],
            n => broker.beat_history(&e.name, n).await?,
        };
        let queue = e
            .queue
            .clone()
            .or_else(|| cfg.task(&e.task).map(|t| t.queue.clone()))
            .unwrap_or_default();
        periodic.push(PeriodicRow {
            name: e.name,
            task: e.task,
            queue,
            schedule: e.schedule,
            catch_up: e.policy.catch_up.as_str().into(),
            next_run: st.next_fire_ms.map(output::ts),
            next_run_ms: st.next_fire_ms,
            last_run: st.last_fire_ms.map(output::ts),
            last_run_ms: st.last_fire_ms,
            last_task_id: st.last_task_id,
            last_outcome: st.last_outcome,
            consecutive_failures: st.consecutive_failures,
            history: history
                .into_iter()
                .map(|f| FireRow {
                    fire_time: output::ts(f.fire_ms),
                    fire_ms: f.fire_ms,
                    fired_at_ms: f.at_ms,
                    task_id: f.task_id,
                    duplicate: f.duplicate,
                    late: f.late,
                    holder: f.holder,
                })
                .collect(),
        });
    }
    let queues = match &a.queue {
        Some(q) => vec![q.clone()],
        None => broker.known_queues(&cfg.queue_names()).await?,
    };
    let mut delayed = vec![];
    for q in &queues {
        for state in [State::Scheduled, State::Retry] {
            for t in broker.stored(q, state, a.limit as isize).await? {
                let e = t.envelope.as_ref();
                delayed.push(DelayedRow {
                    id: t.id.clone(),
                    task: e.map_or_else(|| "(undecodable)".into(), |e| e.task.clone()),
                    queue: t.queue.clone(),
                    state: state.name().into(),
                    due: output::ts(t.score_ms),
                    due_ms: t.score_ms,
                    attempt: e.map_or(0, |e| e.attempt),
                    last_error: e.and_then(|e| e.last_error.clone()),
                });
            }
        }
    }
    delayed.sort_by_key(|d| d.due_ms);
    Ok(ScheduledView {
        leader,
        beats,
        periodic,
        delayed,
    })
}

fn print_tables(v: &ScheduledView) {
    let now = now_ms();
    output::print_line(&match &v.leader {
        Some(l) => format!(
            "beat leader: {} since {} (token {}, lease expires in {})",
            l.holder,
            l.since,
            l.token,
            output::age(l.expires_in_ms as f64 / 1000.0)
        ),
        None => "beat leader: none (no beat is running)".into(),
    });
    let standbys: Vec<&str> = v
        .beats
        .iter()
        .filter(|b| b.role == "standby")
        .map(|b| b.id.as_str())
        .collect();
    if !standbys.is_empty() {
        output::print_line(&format!("standby beats: {}", standbys.join(", ")));
    }
    let opt = |s: &Option<String>| s.clone().unwrap_or_else(|| "-".into());
    if v.periodic.is_empty() {
        output::print_line("no periodic entries configured");
    } else {
        output::table(
            &[
                "entry",
                "task",
                "queue",
                "schedule",
                "next run",
                "last run",
                "last outcome",
                "failures",
                "last task",
            ],
            v.periodic
                .iter()
                .map(|p| {
                    let next = match p.next_run_ms {
                        Some(n) if n + 1000 < now => format!("{} (overdue)", opt(&p.next_run)),
                        _ => opt(&p.next_run),
                    };
                    vec![
                        p.name.clone(),
                        p.task.clone(),
                        p.queue.clone(),
                        p.schedule.clone(),
                        next,
                        opt(&p.last_run),
                        opt(&p.last_outcome),
                        p.consecutive_failures.to_string(),
                        opt(&p.last_task_id),
                    ]
                })
                .collect(),
        );
    }
    let fires: Vec<Vec<String>> = v
        .periodic
        .iter()
        .flat_map(|p| {
            p.history.iter().map(|f| {
                vec![
                    p.name.clone(),
                    f.fire_time.clone(),
                    f.task_id.clone(),
                    f.holder.clone(),
                    match (f.late, f.duplicate) {
                        (true, true) => "late, duplicate".into(),
                        (true, false) => "late".into(),
                        (false, true) => "duplicate".into(),
                        (false, false) => String::new(),
                    },
                ]
            })
        })
        .collect();
    if !fires.is_empty() {
        output::table(&["entry", "fire time", "task", "beat", "note"], fires);
    }
    if v.delayed.is_empty() {
        output::print_line("no delayed or retrying tasks");
    } else {
        output::table(
            &[
                "id",
                "task",
                "queue",
                "state",
                "due",
                "attempt",
                "last error",
            ],
            v.delayed
                .iter()
                .map(|d| {
                    vec![
                        d.id.clone(),
                        d.task.clone(),
                        d.queue.clone(),
                        d.state.clone(),
                        d.due.clone(),
                        d.attempt.to_string(),
                        opt(&d.last_error).chars().take(80).collect(),
                    ]
                })
                .collect(),
        );
    }
}
