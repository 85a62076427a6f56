//! Checks on resolved values that the file's types cannot express, run when the config
//! loads (every command): a value that would make ciq hammer Redis, wait forever, or
//! leave tasks where no worker looks is a one-line error naming its key, not a surprise
//! later. Errors are `(dotted key, message)`.

use super::{QueueConfig, RunnerSpec, TaskConfig, WorkerConfig};
use std::collections::BTreeMap;
use std::time::Duration;

type Check = Result<(), (String, String)>;

/// Bounds of the worker's timing knobs: below the minimum a worker sends thousands of
/// commands a second; above the maximum a value is a typo (a lease of a year).
pub const HEARTBEAT_MIN: Duration = Duration::from_millis(100);
pub const SWEEP_MIN: Duration = Duration::from_millis(100);
pub const LEASE_MIN: Duration = Duration::from_millis(200);
pub const KNOB_MAX: Duration = Duration::from_secs(24 * 3600);
pub const CONCURRENCY_MAX: usize = 10_000;

/// Whole days as `400d`, the rest as humantime does (`1h 30m`).
fn human(d: Duration) -> String {
    let s = d.as_secs();
    if s >= 86_400 && s.is_multiple_of(86_400) && d.subsec_nanos() == 0 {
        return format!("{}d", s / 86_400);
    }
    humantime::format_duration(d).to_string()
}

/// `d` within `[min, max]`, else a message naming both bounds.
pub fn within(d: Duration, min: Duration, max: Duration) -> Result<(), String> {
    if d < min || d > max {
        return Err(format!(
            "{} is out of range: use {} to {}",
            human(d),
            human(min),
            human(max)
        ));
    }
    Ok(())
}

pub fn concurrency(n: usize) -> Result<(), String> {
    if n == 0 || n > CONCURRENCY_MAX {
        return Err(format!(
            "{n} is out of range: a worker runs 1 to {CONCURRENCY_MAX} tasks at once"
        ));
    }
    Ok(())
}

/// The worker section, whichever layer set it.
pub fn worker(w: &WorkerConfig) -> Check {
    let key = |k: &str| format!("worker.{k}");
    concurrency(w.concurrency).map_err(|m| (key("concurrency"), m))?;
    within(w.lease.0, LEASE_MIN, KNOB_MAX).map_err(|m| (key("lease"), m))?;
    within(w.heartbeat.0, HEARTBEAT_MIN, KNOB_MAX).map_err(|m| (key("heartbeat"), m))?;
    within(w.sweep.0, SWEEP_MIN, KNOB_MAX).map_err(|m| (key("sweep"), m))?;
    within(w.shutdown_timeout.0, Duration::ZERO, KNOB_MAX)
        .map_err(|m| (key("shutdown_timeout"), m))?;
    if w.heartbeat >= w.lease {
        return Err((
            key("heartbeat"),
            format!(
                "heartbeat ({}) must be shorter than the lease ({})",
                w.heartbeat, w.lease
            ),
        ));
    }
    Ok(())
}

/// A `{name}` template (unique key, argv) whose braces close.
pub fn template(tpl: &str) -> Result<(), String> {
    let mut open = false;
    for c in tpl.chars() {
        match (c, open) {
            ('{', true) => return Err(format!("template {tpl:?}: '{{' inside a placeholder")),
            ('{', false) => open = true,
            ('}', true) => open = false,
            _ => {}
        }
    }
    if open {
        return Err(format!("template {tpl:?}: unclosed '{{'"));
    }
    Ok(())
}

pub fn runner(key: &str, r: &RunnerSpec) -> Check {
    match r {
        RunnerSpec::Exec { exec, .. } => {
            let k = format!("{key}.exec");
            match exec.first() {
                None => {
                    return Err((
                        k,
                        "exec = [] runs nothing: give the program and its arguments".into(),
                    ))
                }
                Some(p) if p.trim().is_empty() => {
                    return Err((k, "the program (first element) is empty".into()))
                }
                _ => {}
            }
            exec.iter()
                .try_for_each(|a| template(a))
                .map_err(|m| (k, m))
        }
        RunnerSpec::Http { http, .. } if !http.starts_with("http") => Err((
            format!("{key}.http"),
            format!("{http:?} is not an http:// or https:// URL"),
        )),
        RunnerSpec::Http { .. } => Ok(()),
    }
}

/// One task's unique-key template and runner.
pub fn task(name: &str, t: &TaskConfig) -> Check {
    if let Some(u) = &t.unique {
        template(u).map_err(|m| (format!("tasks.{name}.unique"), m))?;
    }
    match &t.runner {
        Some(r) => runner(&format!("tasks.{name}.runner"), r),
        None => Ok(()),
    }
}

pub(super) fn unrouted(queue: &str, queues: &[QueueConfig]) -> Option<String> {
    (!queues.iter().any(|q| q.name == queue)).then(|| {
        format!(
            "queue {queue:?} is not in [queues] ({}): no worker started without -Q would take its tasks; add it to [queues]",
            queues.iter().map(|q| q.name.as_str()).collect::<Vec<_>>().join(", ")
        )
    })
}

/// Every task goes to a queue workers listen to by default. Refused rather than warned
/// about: a warning on every `ciq enqueue` from cron is noise nobody reads, and the
/// tasks would wait silently forever.
pub fn routes(queues: &[QueueConfig], tasks: &BTreeMap<String, TaskConfig>) -> Check {
    for (name, t) in tasks {
        if let Some(m) = unrouted(&t.queue, queues) {
            return Err((format!("tasks.{name}.queue"), m));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn templates_must_close() {
        assert!(template("start_test:{test_id}").is_ok());
        assert!(template("x:{test_id").unwrap_err().contains("unclosed"));
        assert!(template("x:{a{b}}").is_err());
    }

    #[test]
    fn knobs_have_bounds() {
        let w = WorkerConfig {
            heartbeat: super::super::Dur::millis(0),
            ..Default::default()
        };
        assert_eq!(worker(&w).unwrap_err().0, "worker.heartbeat");
        let w = WorkerConfig {
            concurrency: 0,
            ..Default::default()
        };
        assert_eq!(worker(&w).unwrap_err().0, "worker.concurrency");
        assert!(worker(&WorkerConfig::default()).is_ok());
    }
}
