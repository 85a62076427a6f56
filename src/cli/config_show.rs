//! `ciq config show`: the resolved configuration and where each value came from.
//!
//! Both forms render one list of rows (section, key, value, source) built by `rows`, so
//! the table and `--json` always list the same settings.

use super::{CliResult, Ctx};
use crate::config::{Config, Source};
use crate::output;
use crate::secrets::redact_url;
use serde_json::{json, Map, Value};
use std::process::ExitCode;

#[derive(Debug, clap::Subcommand)]
pub enum ConfigCommand {
    /// Print the resolved config (flags > CIQ_* env > ciq.toml > config.py > defaults)
    /// with the source of each value. Table and --json list the same settings.
    Show,
}

/// One resolved setting. `section` is "" for the top-level keys of ciq.toml.
#[derive(Debug, Clone)]
pub struct Row {
    pub section: &'static str,
    pub key: String,
    pub value: Value,
    /// None where no single layer applies (the config file's own path).
    pub source: Option<Source>,
}

impl Row {
    /// `section.key` (or `key` at the top level), as the table's first column.
    pub fn setting(&self) -> String {
        if self.section.is_empty() {
            self.key.clone()
        } else {
            format!("{}.{}", self.section, self.key)
        }
    }
}

fn source_name(s: &Option<Source>) -> String {
    s.as_ref()
        .and_then(|s| serde_json::to_value(s).ok())
        .and_then(|v| v.as_str().map(String::from))
        .unwrap_or_default()
}

/// Every setting of the resolved config, in display order. Secrets are masked (URL
/// passwords) or left out (passwords, `[platform] env` values).
pub fn rows(c: &Config) -> Vec<Row> {
    let mut out = vec![];
    let mut push = |section: &'static str, key: &str, value: Value, source: Option<Source>| {
        out.push(Row {
            section,
            key: key.into(),
            value,
            source,
        })
    };
    // Set in the file unless `sources` names another layer; `set` says whether the
    // file had it at all.
    let layer = |key: &str, set: bool| {
        Some(c.sources.get(key).cloned().unwrap_or(if set {
            Source::File
        } else {
            Source::Default
        }))
    };
    let file = c.file.as_ref().map(|p| p.display().to_string());
    push("", "file", json!(file), None);
    push(
        "",
        "database",
        json!(redact_url(&c.database.value)),
        Some(c.database.source.clone()),
    );

    let b = &c.broker_options;
    push(
        "broker",
        "url",
        json!(redact_url(&c.broker.value)),
        Some(c.broker.source.clone()),
    );
    push(
        "broker",
        "ca_file",
        json!(c.broker_ca_file.as_ref().map(|p| p.display().to_string())),
        layer("broker.ca_file", false),
    );
    push(
        "broker",
        "min_replicas",
        json!(b.min_replicas),
        layer("broker.min_replicas", false),
    );
    push(
        "broker",
        "min_replicas_timeout",
        json!(humantime::format_duration(b.min_replicas_timeout).to_string()),
        layer("broker.min_replicas_timeout", false),
    );

    for q in &c.queues.value {
        push(
            "queues",
            &q.name,
            json!(q.weight),
            Some(c.queues.source.clone()),
        );
    }

    let w = &c.worker;
    for (k, v) in [
        ("concurrency", json!(w.concurrency)),
        ("lease", json!(w.lease)),
        ("heartbeat", json!(w.heartbeat)),
        ("sweep", json!(w.sweep)),
        ("upkeep_lease", json!(w.upkeep_lease)),
        ("shutdown_timeout", json!(w.shutdown_timeout)),
        ("max_deliveries", json!(w.max_deliveries)),
        ("dead_max", json!(w.dead_max)),
        ("history_retention", json!(w.history_retention)),
        ("history_max", json!(w.history_max)),
        ("metrics_addr", json!(w.metrics_addr)),
    ] {
        let src = if w.from_file.contains(k) {
            Source::File
        } else {
            Source::Default
        };
        push("worker", k, v, Some(src));
    }

    for (name, t) in &c.tasks {
        let mut v = serde_json::to_value(t).unwrap_or_default();
        if let Some(m) = v.as_object_mut() {
            m.remove("source");
            let runner = match &t.runner {
                Some(crate::config::RunnerSpec::Exec { exec, .. }) => {
                    format!("exec {}", exec.join(" "))
                }
                Some(crate::config::RunnerSpec::Http { http, .. }) => format!("http {http}"),
                None => "built in".into(),
            };
            m.insert("runner".into(), json!(runner));
        }
        push("tasks", name, v, Some(t.source.clone()));
    }

    let sched_src = layer("schedule", false);
    for (name, s) in &c.schedule {
        let v = serde_json::to_value(s).unwrap_or_default();
        push("schedule", name, v, sched_src.clone());
    }

    let bt = &c.beat;
    for (k, v) in [
        ("lease", json!(bt.lease)),
        ("tick", json!(bt.tick)),
        ("history", json!(bt.history)),
        ("metrics_addr", json!(bt.metrics_addr)),
    ] {
        push("beat", k, v, layer(&format!("beat.{k}"), false));
    }

    let p = &c.platform;
    let raw = serde_json::to_value(p).unwrap_or_default();
    let set = |k: &str| !raw[k].is_null();
    for (k, v) in [
        ("config_py", json!(p.config_py)),
        ("mode", json!(p.mode())),
        ("python", json!(p.python.as_deref().unwrap_or("python3"))),
        (
            "bridge",
            json!(p
                .bridge
                .clone()
                .unwrap_or_else(|| crate::config::platform::default_bridge()
                    .display()
                    .to_string())),
        ),
        ("bridge_args", json!(p.bridge_args)),
        ("env", json!(p.env.keys().collect::<Vec<_>>())),
        ("lock_dir", json!(p.lock_dir().display().to_string())),
        ("lock_wait", json!(crate::config::Dur(p.lock_wait()))),
        ("defer_max", json!(crate::config::Dur(p.defer_max()))),
        ("max_runtime", json!(crate::config::Dur(p.max_runtime()))),
        ("platforms", json!(p.platforms())),
        ("pool_size", json!(p.pool_size())),
        ("db_timeout", json!(crate::config::Dur(p.db_timeout()))),
        ("discover_limit", json!(p.discover_limit())),
    ] {
        let set = if k == "env" {
            !p.env.is_empty()
        } else {
            set(k)
        };
        push("platform", k, v, layer(&format!("platform.{k}"), set));
    }

    match c.rollout.resolve() {
        Ok(r) => {
            let f = &c.rollout;
            let crontab = match &r.crontab {
                crate::config::rollout::CrontabTarget::User(Some(u)) => format!("crontab of {u}"),
                crate::config::rollout::CrontabTarget::User(None) => "user crontab".into(),
                crate::config::rollout::CrontabTarget::File(p) => p.display().to_string(),
            };
            let crontab = match r.crontab_format {
                Some(crate::config::rollout::CrontabFormat::System) => {
                    format!("{crontab} (system format: a user field)")
                }
                Some(crate::config::rollout::CrontabFormat::User) => {
                    format!("{crontab} (user format: no user field)")
                }
                None => crontab,
            };
            let path = |p: &std::path::Path| json!(p.display().to_string());
            for (k, v, set) in [
                (
                    "platform_config",
                    path(&r.platform_config),
                    f.platform_config.is_some(),
                ),
                ("flag", json!(r.flag), f.flag.is_some()),
                ("cron_match", json!(r.cron_match), f.cron_match.is_some()),
                (
                    "crontab",
                    json!(crontab),
                    f.crontab.is_some() || f.crontab_user.is_some() || f.crontab_format.is_some(),
                ),
                (
                    "units",
                    json!([&r.worker_unit, &r.beat_unit, &r.platform_unit]),
                    f.worker_unit.is_some() || f.beat_unit.is_some() || f.platform_unit.is_some(),
                ),
                ("unit_dir", path(&r.unit_dir), f.unit_dir.is_some()),
                ("backup_dir", path(&r.backup_dir), f.backup_dir.is_some()),
                ("audit_log", path(&r.audit_log), f.audit_log.is_some()),
                ("state_dir", path(&r.state_dir), f.state_dir.is_some()),
                (
                    "pending_threshold",
                    json!(r.pending_threshold),
                    f.pending_threshold.is_some(),
                ),
                (
                    "periodic_max_age",
                    json!(r.periodic_max_age),
                    f.periodic_max_age.is_some(),
                ),
                (
                    "heartbeat_max_age",
                    json!(r.heartbeat_max_age),
                    f.heartbeat_max_age.is_some(),
                ),
                (
                    "service_user",
                    json!(format!("{}:{}", r.service_user, r.service_group)),
                    f.service_user.is_some() || f.service_group.is_some(),
                ),
            ] {
                push("rollout", k, v, layer(&format!("rollout.{k}"), set));
            }
        }
        Err(e) => push("rollout", "error", json!(e), None),
    }
    out
}

/// A value as one table cell: strings bare, lists joined, objects as `k=v` pairs.
fn cell(v: &Value) -> String {
    match v {
        Value::Null => "-".into(),
        Value::String(s) => s.clone(),
        Value::Array(a) if a.is_empty() => "-".into(),
        Value::Array(a) => a.iter().map(cell).collect::<Vec<_>>().join(", "),
        Value::Object(m) => m
            .iter()
            .filter(|(_, v)| !v.is_null() && v.as_object().is_none_or(|o| !o.is_empty()))
            .map(|(k, v)| format!("{k}={}", cell(v)))
            .collect::<Vec<_>>()
            .join(" "),
        other => other.to_string(),
    }
}

/// `{"file": {"value", "source"}, "database": {…}, "broker": {"url": {…}, …}, …}`.
fn to_json(rows: &[Row]) -> Value {
    let mut top = Map::new();
    for r in rows {
        let leaf = json!({ "value": r.value, "source": r.source });
        if r.section.is_empty() {
            top.insert(r.key.clone(), leaf);
        } else {
            top.entry(r.section)
                .or_insert_with(|| Value::Object(Map::new()))
                .as_object_mut()
                .expect("a section is an object")
                .insert(r.key.clone(), leaf);
        }
    }
    Value::Object(top)
}

pub async fn run(cmd: ConfigCommand, ctx: &Ctx) -> CliResult<ExitCode> {
    let ConfigCommand::Show = cmd;
    let rows = rows(&ctx.config);
    if ctx.json {
        output::json(&to_json(&rows));
        return Ok(ExitCode::SUCCESS);
    }
    let table = rows
        .iter()
        .map(|r| vec![r.setting(), cell(&r.value), source_name(&r.source)])
        .collect();
    output::table(&["setting", "value", "source"], table);
    Ok(ExitCode::SUCCESS)
}
