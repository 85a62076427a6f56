//! `ciq config show`: the resolved configuration and where each value came from.

use super::{CliResult, Ctx};
use crate::output;
use crate::secrets::redact_url;
use std::process::ExitCode;

#[derive(Debug, clap::Subcommand)]
pub enum ConfigCommand {
    /// Print the resolved config (flags > CIQ_* env > ciq.toml > defaults) with sources.
    Show,
}

pub async fn run(cmd: ConfigCommand, ctx: &Ctx) -> CliResult<ExitCode> {
    let ConfigCommand::Show = cmd;
    let c = &ctx.config;
    if ctx.json {
        let mut v = serde_json::to_value(c).unwrap_or_default();
        v["broker"]["value"] = redact_url(&c.broker.value).into();
        v["broker"]["min_replicas"] = c.broker_options.min_replicas.into();
        v["broker"]["min_replicas_timeout"] =
            humantime::format_duration(c.broker_options.min_replicas_timeout)
                .to_string()
                .into();
        v["database"]["value"] = redact_url(&c.database.value).into();
        output::json(&v);
        return Ok(ExitCode::SUCCESS);
    }
    let src = |s: &crate::config::Source| {
        serde_json::to_value(s)
            .ok()
            .and_then(|v| v.as_str().map(String::from))
            .unwrap_or_default()
    };
    let file = c
        .file
        .as_ref()
        .map(|p| p.display().to_string())
        .unwrap_or_else(|| "(none: built-in defaults)".into());
    let mut rows = vec![
        vec!["config file".into(), file, "".into()],
        vec![
            "broker".into(),
            redact_url(&c.broker.value),
            src(&c.broker.source),
        ],
        vec![
            "broker.min_replicas".into(),
            format!(
                "{} (timeout {})",
                c.broker_options.min_replicas,
                humantime::format_duration(c.broker_options.min_replicas_timeout)
            ),
            "".into(),
        ],
        vec![
            "database".into(),
            redact_url(&c.database.value),
            src(&c.database.source),
        ],
        vec![
            "queues".into(),
            c.queues
                .value
                .iter()
                .map(|q| format!("{}={}", q.name, q.weight))
                .collect::<Vec<_>>()
                .join(", "),
            src(&c.queues.source),
        ],
    ];
    let w = &c.worker;
    for (k, v) in [
        ("concurrency", w.concurrency.to_string()),
        ("lease", w.lease.to_string()),
        ("heartbeat", w.heartbeat.to_string()),
        ("sweep", w.sweep.to_string()),
        ("upkeep_lease", w.upkeep_lease.to_string()),
        ("shutdown_timeout", w.shutdown_timeout.to_string()),
        ("max_deliveries", w.max_deliveries.to_string()),
        ("dead_max", w.dead_max.to_string()),
        ("history_retention", w.history_retention.to_string()),
        ("history_max", w.history_max.to_string()),
        (
            "metrics_addr",
            w.metrics_addr
                .map(|a| a.to_string())
                .unwrap_or_else(|| "-".into()),
        ),
    ] {
        let source = if w.from_file.contains(k) {
            "file"
        } else {
            "default"
        };
        rows.push(vec![format!("worker.{k}"), v, source.into()]);
    }
    if let Ok(r) = c.rollout.resolve() {
        let crontab = match &r.crontab {
            crate::config::rollout::CrontabTarget::User(Some(u)) => format!("crontab of {u}"),
            crate::config::rollout::CrontabTarget::User(None) => "user crontab".into(),
            crate::config::rollout::CrontabTarget::File(p) => p.display().to_string(),
        };
        let f = &c.rollout;
        for (k, v, set) in [
            (
                "rollout.platform_config",
                r.platform_config.display().to_string(),
                f.platform_config.is_some(),
            ),
            ("rollout.flag", r.flag.clone(), f.flag.is_some()),
            (
                "rollout.cron",
                format!("{} in {crontab}", r.cron_match),
                f.cron_match.is_some() || f.crontab.is_some(),
            ),
            (
                "rollout.units",
                format!("{}, {}, {}", r.worker_unit, r.beat_unit, r.platform_unit),
                f.worker_unit.is_some() || f.beat_unit.is_some() || f.platform_unit.is_some(),
            ),
            (
                "rollout.audit_log",
                r.audit_log.display().to_string(),
                f.audit_log.is_some(),
            ),
        ] {
            let source = if set { "file" } else { "default" };
            rows.push(vec![k.into(), v, source.into()]);
        }
    }
    for (name, t) in &c.tasks {
        let runner = match &t.runner {
            Some(crate::config::RunnerSpec::Exec { exec, .. }) => {
                format!("exec {}", exec.join(" "))
            }
            Some(crate::config::RunnerSpec::Http { http, .. }) => format!("http {http}"),
            None => "built in".into(),
        };
        rows.push(vec![
            format!("tasks.{name}"),
            format!(
                "queue={} max_retries={} backoff={}..{} unique={} runner={}",
                t.queue,
                t.max_retries,
                t.backoff,
                t.backoff_max,
                t.unique.as_deref().unwrap_or("-"),
                runner
            ),
            src(&t.source),
        ]);
    }
    output::table(&["setting", "value", "source"], rows);
    Ok(ExitCode::SUCCESS)
}
