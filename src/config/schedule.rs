//! `[schedule.NAME]` entries and the `[beat]` knobs for `ciq beat`.
//!
//! Entries are checked when the config loads (every command), so a bad cron
//! expression is a one-line error naming the entry instead of a beat that silently
//! never fires.

use super::duration::Dur;
use super::{QueueConfig, TaskConfig};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ScheduleFile {
    /// Task to enqueue; defaults to the entry's name.
    pub task: Option<String>,
    #[serde(default)]
    pub args: serde_json::Map<String, serde_json::Value>,
    pub queue: Option<String>,
    pub every: Option<Dur>,
    /// 5-field cron expression.
    pub cron: Option<String>,
    /// IANA time zone for `cron`; UTC by default.
    pub timezone: Option<String>,
    /// What a beat that was down does about the fire times it missed.
    #[serde(default)]
    pub catch_up: CatchUp,
    /// With `catch_up = "all"`: at most this many missed fires (the latest ones).
    pub catch_up_max: Option<u32>,
}

/// Restart behaviour after missed fire times.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum CatchUp {
    /// Fire nothing that is more than one lease period late.
    Skip,
    /// Fire the most recent missed time once (an hour down = one fire, not sixty).
    #[default]
    One,
    /// Fire every missed time, oldest first, up to `catch_up_max`.
    All,
}

impl CatchUp {
    pub fn as_str(self) -> &'static str {
        match self {
            CatchUp::Skip => "skip",
            CatchUp::One => "one",
            CatchUp::All => "all",
        }
    }
}

pub const DEFAULT_CATCH_UP_MAX: u32 = 10;

impl ScheduleFile {
    /// The task this entry enqueues.
    pub fn task_name<'a>(&'a self, entry: &'a str) -> &'a str {
        self.task.as_deref().unwrap_or(entry)
    }
}

/// `[beat]` in ciq.toml.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BeatFile {
    pub lease: Option<Dur>,
    pub tick: Option<Dur>,
    pub history: Option<usize>,
    /// Serve the beat's Prometheus metrics here (`ciq beat --metrics-addr`).
    pub metrics_addr: Option<std::net::SocketAddr>,
}

/// Resolved beat knobs; small values make the failover tests take seconds.
#[derive(Debug, Clone, Serialize)]
pub struct BeatConfig {
    /// How long the leader lease lasts without renewal: a standby takes over at most
    /// this long after the leader dies without releasing it.
    pub lease: Dur,
    /// How often the beat renews the lease and looks for due entries.
    pub tick: Dur,
    /// Recent fires kept per entry.
    pub history: usize,
    /// Serve Prometheus metrics here (`--metrics-addr`, `[beat] metrics_addr`).
    pub metrics_addr: Option<std::net::SocketAddr>,
}

impl Default for BeatConfig {
    fn default() -> Self {
        BeatConfig {
            lease: Dur::secs(15),
            tick: Dur::secs(1),
            history: 50,
            metrics_addr: None,
        }
    }
}

impl BeatConfig {
    /// The tick must renew the lease well before it lapses.
    pub fn check(&self) -> Result<(), String> {
        // Below 50ms a beat polls Redis for nothing; a lease over a day is a typo.
        if self.tick.0 < std::time::Duration::from_millis(50) || self.tick.0 * 2 > self.lease.0 {
            return Err(format!(
                "tick ({}) must be at least 50ms and at most half the lease ({})",
                self.tick, self.lease
            ));
        }
        super::checks::within(
            self.lease.0,
            std::time::Duration::from_millis(100),
            super::checks::KNOB_MAX,
        )
        .map_err(|m| format!("lease: {m}"))?;
        Ok(())
    }
}

pub fn resolve_beat(f: BeatFile) -> Result<BeatConfig, (String, String)> {
    let d = BeatConfig::default();
    let b = BeatConfig {
        lease: f.lease.unwrap_or(d.lease),
        tick: f.tick.unwrap_or(d.tick),
        history: f.history.unwrap_or(d.history).max(1),
        metrics_addr: f.metrics_addr,
    };
    b.check().map_err(|m| ("beat.tick".to_string(), m))?;
    Ok(b)
}

/// The platform's periodic tasks, used when ciq.toml has no `[schedule]` section at all
/// (an empty `[schedule]` means no periodic tasks).
pub fn default_schedule() -> BTreeMap<String, ScheduleFile> {
    let every = |secs| ScheduleFile {
        every: Some(Dur::secs(secs)),
        ..Default::default()
    };
    BTreeMap::from([
        ("process_pending_tests".to_string(), every(60)),
        ("maintain".to_string(), every(300)),
    ])
}

/// Entry names appear in Redis keys (`ciq:{beat}:entry:<name>`), so keep them plain.
fn valid_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 64
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'))
}

/// Defaults when absent, then checks every entry; an error is `(dotted key, message)`.
pub fn resolve(
    raw: Option<BTreeMap<String, ScheduleFile>>,
    tasks: &BTreeMap<String, TaskConfig>,
) -> Result<BTreeMap<String, ScheduleFile>, (String, String)> {
    let entries = raw.unwrap_or_else(default_schedule);
    for (name, e) in &entries {
        let key = |field: &str| format!("schedule.{name}.{field}");
        if !valid_name(name) {
            return Err((
                format!("schedule.{name}"),
                "entry names use 1-64 letters, digits, '_', '-' or '.'".into(),
            ));
        }
        crate::cron::Rule::parse(
            e.every.map(|d| d.0),
            e.cron.as_deref(),
            e.timezone.as_deref(),
        )
        .map_err(|(field, msg)| (key(field), msg))?;
        let task = e.task_name(name);
        let t = tasks.get(task).ok_or_else(|| {
            (
                key("task"),
                format!(
                    "unknown task {task:?}; known tasks: {}",
                    tasks.keys().cloned().collect::<Vec<_>>().join(", ")
                ),
            )
        })?;
        if let Some(q) = &e.queue {
            crate::broker::keys::validate_queue_name(q).map_err(|m| (key("queue"), m))?;
        }
        if let Some(path) = crate::secrets::find_secret_arg(&e.args) {
            return Err((
                key("args"),
                crate::secrets::refusal(&format!("argument {path:?}"))
                    + "; let the worker read it from its environment or the runner's env",
            ));
        }
        if let Some(tpl) = &t.unique {
            crate::template::render(tpl, &e.args).map_err(|m| (key("args"), m))?;
        }
        if e.catch_up_max == Some(0) {
            return Err((key("catch_up_max"), "must be at least 1".into()));
        }
    }
    Ok(entries)
}

/// Every entry goes to a queue workers listen to by default (`[schedule.NAME] queue`, or
/// the entry's task's queue), as `checks::routes` asks of every task.
pub fn routes(
    queues: &[QueueConfig],
    schedule: &BTreeMap<String, ScheduleFile>,
    tasks: &BTreeMap<String, TaskConfig>,
) -> Result<(), (String, String)> {
    for (name, e) in schedule {
        let q = match (&e.queue, tasks.get(e.task_name(name))) {
            (Some(q), _) => q.as_str(),
            (None, Some(t)) => t.queue.as_str(),
            (None, None) => continue,
        };
        if let Some(m) = super::checks::unrouted(q, queues) {
            return Err((format!("schedule.{name}.queue"), m));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tasks() -> BTreeMap<String, TaskConfig> {
        crate::config::BUILTIN_TASKS
            .iter()
            .filter_map(|n| crate::config::default_task(n).map(|t| (n.to_string(), t)))
            .collect()
    }

    fn one(toml: &str) -> Result<BTreeMap<String, ScheduleFile>, (String, String)> {
        let raw: BTreeMap<String, ScheduleFile> = toml::from_str(toml).unwrap();
        resolve(Some(raw), &tasks())
    }

    #[test]
    fn no_section_means_the_platform_defaults_and_empty_means_none() {
        let d = resolve(None, &tasks()).unwrap();
        assert_eq!(d["process_pending_tests"].every, Some(Dur::secs(60)));
        assert_eq!(d["maintain"].every, Some(Dur::secs(300)));
        assert!(resolve(Some(BTreeMap::new()), &tasks()).unwrap().is_empty());
    }

    #[test]
    fn errors_name_the_entry_and_field() {
        let e = one("[x]\ntask = \"noop\"\ncron = \"* * *\"\n").unwrap_err();
        assert_eq!(e.0, "schedule.x.cron");
        let e = one("[x]\ntask = \"start_test\"\nevery = \"1m\"\n").unwrap_err();
        assert_eq!(
            e.0, "schedule.x.args",
            "the unique key needs test_id: {}",
            e.1
        );
        let e = one("[x]\ntask = \"noop\"\nevery = \"1m\"\nqueue = \"a b\"\n").unwrap_err();
        assert_eq!(e.0, "schedule.x.queue");
        let e = one("[\"a:b\"]\ntask = \"noop\"\nevery = \"1m\"\n").unwrap_err();
        assert_eq!(e.0, "schedule.a:b");
        let e = one("[x]\ntask = \"noop\"\nevery = \"1m\"\ncatch_up = \"all\"\ncatch_up_max = 0\n");
        assert_eq!(e.unwrap_err().0, "schedule.x.catch_up_max");
        let e = one(
            "[x]\ntask = \"noop\"\nevery = \"1m\"\nargs = { opts = { api_token = \"hunter2\" } }\n",
        )
        .unwrap_err();
        assert_eq!(e.0, "schedule.x.args");
        assert!(
            e.1.contains("opts.api_token") && !e.1.contains("hunter2"),
            "{}",
            e.1
        );
        assert!(one(
            "[x]\ntask = \"noop\"\ncron = \"0 9 * * mon-fri\"\ntimezone = \"Europe/Berlin\"\n"
        )
        .is_ok());
    }

    #[test]
    fn tick_must_fit_the_lease() {
        let bad = BeatFile {
            lease: Some(Dur::secs(1)),
            tick: Some(Dur::secs(1)),
            history: None,
            metrics_addr: None,
        };
        assert_eq!(resolve_beat(bad).unwrap_err().0, "beat.tick");
        assert!(resolve_beat(BeatFile::default()).is_ok());
    }
}
