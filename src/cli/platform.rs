//! `ciq platform check`: is the platform database reachable and complete, and what is
//! pending? Exit 4 when the database is unreachable or a table/column is missing.

use super::{CliResult, Ctx};
use crate::broker::now_ms;
use crate::output;
use crate::platform::{db, queries};
use crate::secrets::redact_url;
use serde::Serialize;
use std::process::ExitCode;

#[derive(Debug, clap::Subcommand)]
pub enum PlatformCommand {
    /// Check the platform database (tables, columns) and count pending tests per platform.
    ///
    /// A fresh SQLite file gets the platform's tables; MySQL and PostgreSQL databases
    /// are only checked, and every missing table or column is named.
    Check,
}

#[derive(Serialize)]
struct PlatformRow {
    platform: String,
    maintenance: bool,
    pending: usize,
    /// Seconds since discovery first saw the oldest pending test (null: not seen yet).
    oldest_pending_secs: Option<u64>,
}

#[derive(Serialize)]
struct Report {
    database: String,
    backend: String,
    /// active | shadow (null: the flag cannot be read)
    mode: Option<String>,
    platforms: Vec<PlatformRow>,
    /// What the platform's own code would get wrong, or will never start.
    warnings: Vec<String>,
}

pub async fn run(cmd: PlatformCommand, ctx: &Ctx) -> CliResult<ExitCode> {
    let PlatformCommand::Check = cmd;
    let cfg = &ctx.config;
    let db = db::connect(&cfg.database.value, &cfg.platform).await?;
    // First-seen times are a bonus: the check works while Redis is down.
    let seen =
        match crate::broker::Broker::connect_with(&cfg.broker.value, &cfg.broker_options).await {
            Ok(b) => b.first_seen().await.unwrap_or_default(),
            Err(_) => Default::default(),
        };
    let now = now_ms();
    let mut rows = vec![];
    let mut warnings = vec![];
    for p in cfg.platform.platforms() {
        let maintenance = queries::in_maintenance(&db, &p).await?;
        let ids = queries::pending(&db, &p, cfg.platform.discover_limit()).await?;
        let oldest = ids
            .iter()
            .filter_map(|t| seen.get(&i64::from(t.id)))
            .min()
            .map(|ms| now.saturating_sub(*ms) / 1000);
        let stuck: Vec<String> = ids
            .iter()
            .filter(|t| t.has_progress)
            .map(|t| t.id.to_string())
            .collect();
        if !stuck.is_empty() {
            warnings.push(format!(
                "{p}: test(s) {} have progress rows but no instance: the platform's start_test skips them (\"already has progress entries\"); they will never start",
                stuck.join(", ")
            ));
        }
        rows.push(PlatformRow {
            platform: p,
            maintenance,
            pending: ids.len(),
            oldest_pending_secs: oldest,
        });
    }
    let orphans = queries::instances_without_test(&db).await?;
    if !orphans.is_empty() {
        warnings.insert(0, format!(
            "gcp_instance row(s) {} have no test_id: the platform's own pending query (NOT IN) then returns no test at all, so its cron starts nothing; ciq ignores such rows. Delete them",
            orphans.join(", ")
        ));
    }
    db.close().await;
    let mode = match crate::platform::mode::effective(cfg) {
        Ok(m) => Some(format!("{m:?}").to_lowercase()),
        Err(e) => {
            warnings.push(e);
            None
        }
    };
    let report = Report {
        database: redact_url(&cfg.database.value),
        backend: format!("{:?}", db.dialect()).to_lowercase(),
        mode,
        platforms: rows,
        warnings,
    };
    if ctx.json {
        output::json(&report);
        return Ok(ExitCode::SUCCESS);
    }
    if !ctx.quiet {
        eprintln!(
            "ok: {} ({}) has every table and column ciq uses",
            report.database, report.backend
        );
    }
    for w in &report.warnings {
        eprintln!("warning: {w}");
    }
    output::table(
        &["platform", "maintenance", "pending", "oldest pending"],
        report
            .platforms
            .iter()
            .map(|r| {
                vec![
                    r.platform.clone(),
                    if r.maintenance { "yes" } else { "no" }.into(),
                    r.pending.to_string(),
                    r.oldest_pending_secs
                        .map(|s| output::age(s as f64))
                        .unwrap_or_else(|| "-".into()),
                ]
            })
            .collect(),
    );
    Ok(ExitCode::SUCCESS)
}
