//! `ciq depth --check`: the monitoring-plugin form of `depth` (exit 0/1/2/3 and one line
//! with performance data), for existing Nagios/Icinga/Sensu setups.

use super::read::depths;
use crate::cli::Ctx;
use crate::config::parse_duration;
use std::process::ExitCode;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Status {
    Ok = 0,
    Warning = 1,
    Critical = 2,
    Unknown = 3,
}

impl Status {
    fn label(self) -> &'static str {
        match self {
            Status::Ok => "OK",
            Status::Warning => "WARNING",
            Status::Critical => "CRITICAL",
            Status::Unknown => "UNKNOWN",
        }
    }
}

fn report(status: Status, text: &str) -> ExitCode {
    crate::output::print_line(&format!("CIQ {} - {text}", status.label()));
    ExitCode::from(status as u8)
}

/// The `--check` thresholds.
pub struct Thresholds {
    pub warn: Option<u64>,
    pub crit: Option<u64>,
    pub max_age: Option<String>,
}

pub async fn run(queues: &[String], a: &Thresholds, ctx: &Ctx) -> ExitCode {
    let max_age = match a.max_age.as_deref().map(parse_duration).transpose() {
        Ok(m) => m,
        Err(e) => return report(Status::Unknown, &format!("--max-age: {e}")),
    };
    if let (Some(w), Some(c)) = (a.warn, a.crit) {
        if w > c {
            return report(Status::Unknown, &format!("--warn {w} is above --crit {c}"));
        }
    }
    let broker = match ctx.broker().await {
        Ok(b) => b,
        Err(e) => return report(Status::Unknown, &e.msg),
    };
    if let Err(e) = crate::cli::known_queue::require_known(&broker, ctx, queues).await {
        return report(Status::Unknown, &e.msg);
    }
    let ds = match depths(&broker, ctx, queues).await {
        Ok(d) => d,
        Err(e) => return report(Status::Unknown, &e.msg),
    };
    let mut status = Status::Ok;
    let mut problems = vec![];
    // An evicting Redis can delete queued tasks without a trace: no depth can be trusted.
    if let Ok(info) = broker.server_info().await {
        if info.evicting() {
            problems.push(format!(
                "Redis may evict queued tasks (maxmemory-policy {})",
                info.maxmemory_policy
            ));
            status = Status::Critical;
        }
    }
    for d in &ds {
        let s = if a.crit.is_some_and(|c| d.pending >= c) {
            Status::Critical
        } else if a.warn.is_some_and(|w| d.pending >= w) {
            Status::Warning
        } else {
            Status::Ok
        };
        if s > Status::Ok {
            problems.push(format!("{} has {} pending", d.queue, d.pending));
        }
        status = status.max(s);
        if let (Some(max), Some(age)) = (max_age, d.oldest_pending_age_s) {
            if age > max.as_secs_f64() {
                problems.push(format!(
                    "{} oldest pending is {}",
                    d.queue,
                    crate::output::age(age)
                ));
                status = status.max(Status::Critical);
            }
        }
    }
    let total: u64 = ds.iter().map(|d| d.pending).sum();
    let perf: Vec<String> = ds
        .iter()
        .map(|d| {
            format!(
                "{}={};{};{};0 {}_age={}s",
                d.queue,
                d.pending,
                a.warn.map(|w| w.to_string()).unwrap_or_default(),
                a.crit.map(|c| c.to_string()).unwrap_or_default(),
                d.queue,
                d.oldest_pending_age_s.unwrap_or(0.0).round()
            )
        })
        .collect();
    let summary = if problems.is_empty() {
        format!("{total} pending in {} queue(s)", ds.len())
    } else {
        problems.join(", ")
    };
    report(status, &format!("{summary} | {}", perf.join(" ")))
}
