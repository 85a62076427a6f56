//! What `migrate-from-cron` and `rollback` share on the terminal: the plan, progress
//! lines, the per-step wizard and the audit entries written while steps run.

use crate::broker::now_ms;
use crate::cli::{CliError, CliResult, Ctx, Kind};
use crate::config::rollout::Rollout;
use crate::output;
use crate::rollout::audit::{self, Entry};
use crate::rollout::notes::{self, StageNote};
use crate::rollout::plan::Step;
use crate::rollout::{apply, Error};
use std::time::Duration;

impl From<Error> for CliError {
    fn from(e: Error) -> Self {
        match e {
            Error::Timeout(_) => CliError::new(Kind::Timeout, e.to_string()),
            Error::Busy(_) => CliError::new(Kind::Refused, e.to_string())
                .with_hint("wait for it to finish; the lock goes away when it exits"),
            _ => CliError::failure(e.to_string()),
        }
    }
}

/// `[rollout]` with defaults filled in; a bad value is a usage error.
pub fn rollout_config(ctx: &Ctx) -> CliResult<Rollout> {
    ctx.config.rollout.resolve().map_err(CliError::usage)
}

/// `--dry-run --json`: the plan and the gate checks, with a stable schema.
#[derive(Debug, serde::Serialize)]
pub struct PlanJson<'a> {
    /// The stage now (null with drift).
    pub from: Option<u8>,
    pub to: u8,
    pub drift: &'a [crate::rollout::state::Drift],
    pub steps: &'a [Step],
    pub gates: &'a [crate::rollout::gates::Gate],
}

/// Prints the plan on stdout: every step, what it changes and how it is verified.
pub fn print_plan(title: &str, steps: &[Step]) {
    output::print_line(title);
    for (i, s) in steps.iter().enumerate() {
        let state = if s.blocked.is_some() {
            "  [BLOCKED]"
        } else if !s.needed {
            "  [already done]"
        } else if s.read_only {
            "  [check]"
        } else {
            ""
        };
        output::print_line(&format!("  {}. {}{state}", i + 1, s.title));
        if s.needed {
            for l in s.change.lines() {
                output::print_line(&format!("       {l}"));
            }
            output::print_line(&format!("       verify: {}", s.verify));
        }
    }
}

/// How steps are run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// One after the other (after --yes or one confirmation).
    Unattended,
    /// Ask before each step: apply, skip with a reason, or abort.
    Wizard,
}

#[derive(Debug, Default)]
pub struct RunReport {
    pub applied: usize,
    pub skipped: Vec<String>,
    /// Steps not run because an earlier step they follow was skipped (or not done).
    pub not_done: Vec<String>,
    /// The step the operator aborted at.
    pub aborted: Option<String>,
}

enum Choice {
    Apply,
    Skip(String),
    Abort,
}

fn ask(i: usize, n: usize, s: &Step) -> CliResult<Choice> {
    let failed = |e: dialoguer::Error| CliError::failure(format!("prompt failed: {e}"));
    eprintln!();
    eprintln!("Step {i}/{n}: {}", s.title);
    for l in s.change.lines() {
        eprintln!("    {l}");
    }
    eprintln!("    verify: {}", s.verify);
    let pick = dialoguer::Select::new()
        .with_prompt("Apply this step?")
        .items(&["apply", "skip (give a reason)", "abort"])
        .default(0)
        .interact()
        .map_err(failed)?;
    Ok(match pick {
        0 => Choice::Apply,
        1 => Choice::Skip(
            dialoguer::Input::<String>::new()
                .with_prompt("Reason for skipping (goes to the audit log)")
                .validate_with(|r: &String| {
                    if r.trim().is_empty() {
                        Err("a reason is required")
                    } else {
                        Ok(())
                    }
                })
                .interact_text()
                .map_err(failed)?,
        ),
        _ => Choice::Abort,
    })
}

/// Whether prompting is possible: a terminal on stdin and stderr.
pub fn can_prompt() -> bool {
    output::stdin_is_tty() && output::stderr_is_tty()
}

/// One yes/no question for the whole plan (migrate); refuses without a terminal.
pub fn confirm_all(question: &str) -> CliResult<bool> {
    if !can_prompt() {
        return Err(CliError::new(
            Kind::Refused,
            "refusing to change the platform without a terminal to confirm on",
        )
        .with_hint("add --yes to run unattended from a script"));
    }
    dialoguer::Confirm::new()
        .with_prompt(question)
        .default(false)
        .interact()
        .map_err(|e| CliError::failure(format!("prompt failed: {e}")))
}

fn log(r: &Rollout, e: &Entry) -> CliResult<()> {
    audit::append(&r.audit_log, e)
        .map_err(|e| CliError::failure(format!("cannot write the audit log: {e}")))
}

/// Appends one audit entry with a reason (gates forced, aborted, …).
pub fn log_event(
    r: &Rollout,
    command: &str,
    step: &str,
    outcome: &str,
    reason: String,
) -> CliResult<()> {
    let mut e = Entry::new(command, step, outcome);
    e.reason = Some(reason);
    log(r, &e)
}

/// Notes the stage reached; the stage itself is always read from the machine.
pub fn record(r: &crate::config::rollout::Rollout, stage: u8) {
    let note = StageNote {
        stage,
        at: output::ts(now_ms()),
        by: crate::rollout::audit::who(),
    };
    if notes::read_note(&r.state_dir).map(|n| n.stage) == Some(stage) {
        return;
    }
    if let Err(e) = notes::write_note(&r.state_dir, &note) {
        eprintln!("warning: cannot record the stage: {e}");
    }
}

/// How steps run beyond their mode.
#[derive(Debug, Default, Clone, Copy)]
pub struct StepOptions {
    /// After setting the cron back, wait up to this long for the cron log to show a run.
    pub verify_wait: Option<Duration>,
    /// Cut what a stopping worker waits for (platform starts) instead of letting it finish.
    pub force: bool,
}

/// Runs the needed steps in order, with a progress line per step on stderr. A step that
/// stops the worker says what the worker waits for while it stops; `force` cuts it.
pub fn run_steps(
    ctx: &Ctx,
    command: &str,
    rerun: &str,
    r: &Rollout,
    steps: &[Step],
    mode: Mode,
    opts: StepOptions,
) -> CliResult<RunReport> {
    let StepOptions { verify_wait, force } = opts;
    let mut report = RunReport::default();
    let n = steps.len();
    if crate::rollout::plan::changes_anything(steps) {
        audit::ensure_writable(&r.audit_log)
            .map_err(|e| CliError::failure(format!("cannot write the audit log: {e}")))?;
    }
    let note = |s: String| {
        if !ctx.quiet {
            eprintln!("{s}");
        }
    };
    for (i, s) in steps.iter().enumerate().map(|(i, s)| (i + 1, s)) {
        if !s.needed {
            note(format!("[{i}/{n}] {}: already done", s.title));
            continue;
        }
        if let Some(first) = s.after.as_ref() {
            let was = if report.skipped.contains(first) {
                Some("skipped")
            } else if report.not_done.contains(first) {
                Some("not done")
            } else {
                None
            };
            if let Some(was) = was {
                let why = format!("it follows \"{first}\", which was {was}");
                log_event(r, command, &s.title, "not-done", why.clone())?;
                note(format!("[{i}/{n}] {}: not done ({why})", s.title));
                report.not_done.push(s.title.clone());
                continue;
            }
        }
        if mode == Mode::Wizard && !s.read_only {
            match ask(i, n, s)? {
                Choice::Apply => {}
                Choice::Skip(reason) => {
                    log_event(r, command, &s.title, "skipped", reason.trim().to_string())?;
                    note(format!("[{i}/{n}] {}: skipped", s.title));
                    report.skipped.push(s.title.clone());
                    continue;
                }
                Choice::Abort => {
                    log_event(r, command, &s.title, "aborted", "operator aborted".into())?;
                    report.aborted = Some(s.title.clone());
                    return Ok(report);
                }
            }
        }
        let spin = if ctx.quiet {
            indicatif::ProgressBar::hidden()
        } else {
            output::spinner(&s.title)
        };
        let quiet = ctx.quiet;
        let line = spin.clone();
        let mut watch = super::stop_watch::LiveStop::new(
            ctx,
            Box::new(move |l: &str| match (quiet, line.is_hidden()) {
                (true, _) => {}
                (false, true) => eprintln!("{l}"),
                (false, false) => line.println(l),
            }),
        );
        let worker_stop = apply::WorkerStop {
            force,
            watch: &mut watch,
        };
        let result = apply::apply(s, r, verify_wait, worker_stop);
        drop(watch);
        spin.finish_and_clear();
        match result {
            Ok(o) => {
                if !s.read_only {
                    let mut e = Entry::new(command, &s.title, "applied");
                    e.before = Some(o.before.clone());
                    e.after = Some(o.after.clone());
                    e.backup = o.backup.clone();
                    log(r, &e)?;
                    report.applied += 1;
                }
                let backup = o
                    .backup
                    .map(|b| format!("; backup {b}"))
                    .unwrap_or_default();
                note(format!(
                    "[{i}/{n}] {}: ok ({} -> {}{backup})",
                    s.title, o.before, o.after
                ));
            }
            Err(err) => {
                note(format!("[{i}/{n}] {}: FAILED", s.title));
                // The step's own error matters more than a failing audit write.
                if let Err(e) = log_event(r, command, &s.title, "failed", err.to_string()) {
                    eprintln!("warning: {e}");
                }
                return Err(CliError::from(err).with_hint(format!(
                    "fix the cause and run `{rerun}` again: it resumes at this step"
                )));
            }
        }
    }
    Ok(report)
}
