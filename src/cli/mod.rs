//! Command line: global options, a room per command group (a file, or a folder where a
//! command has parts: `status/`, `depth/`, `inspect/`, `up/`, `rollout/`), one flat dispatch.

mod beat;
mod cancel;
mod config_show;
mod depth;
mod enqueue;
pub mod error;
mod inspect;
mod known_queue;
mod logging;
mod pause;
mod platform;
mod purge;
mod requeue;
mod rollout;
mod status;
mod top;
mod up;
mod web;
mod work;

pub use error::{CliError, CliResult, Kind};

use crate::config::{self, Config, Overrides, Source, Sourced};
use clap::{CommandFactory, FromArgMatches, Parser, Subcommand};
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Debug, Parser)]
#[command(
    name = "ciq",
    version,
    about = "A Redis-backed task queue for a CI platform, and the tooling to migrate it from cron and back",
    after_help = error::EXIT_CODES_HELP
)]
pub struct Cli {
    /// Config file (default: ./ciq.toml, then /etc/ciq/ciq.toml).
    #[arg(long, global = true, env = "CIQ_CONFIG", value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Redis URL, e.g. redis://127.0.0.1:6379/0 (rediss:// for TLS).
    #[arg(
        long,
        global = true,
        env = "CIQ_BROKER",
        value_name = "URL",
        hide_env_values = true
    )]
    pub broker: Option<String>,
    /// Platform database URL: mysql://, postgres:// or sqlite://.
    #[arg(
        long,
        global = true,
        env = "CIQ_DATABASE",
        value_name = "URL",
        hide_env_values = true
    )]
    pub database: Option<String>,
    /// Machine-readable JSON on stdout (read commands).
    #[arg(long, global = true)]
    pub json: bool,
    /// Less on stderr: no progress, no notes.
    #[arg(long, short, global = true)]
    pub quiet: bool,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    Enqueue(enqueue::EnqueueArgs),
    Work(work::WorkArgs),
    Beat(beat::BeatArgs),
    Depth(depth::DepthArgs),
    Purge(purge::PurgeArgs),
    /// Look at tasks: what runs now, what gave up, what runs later, one task's history.
    #[command(subcommand)]
    Inspect(inspect::InspectCommand),
    Requeue(requeue::RequeueArgs),
    Cancel(cancel::CancelArgs),
    Pause(pause::PauseArgs),
    Resume(pause::ResumeArgs),
    Status(status::StatusArgs),
    Top(top::TopArgs),
    /// Show the resolved configuration.
    #[command(subcommand)]
    Config(config_show::ConfigCommand),
    Up(up::UpArgs),
    Web(web::WebArgs),
    /// The CI platform's database: check tables and pending tests.
    #[command(subcommand)]
    Platform(platform::PlatformCommand),
    CronGuard(rollout::cron_guard::CronGuardArgs),
    MigrateFromCron(rollout::migrate::MigrateArgs),
    Rollback(rollout::rollback::RollbackArgs),
}

/// What every command gets: the resolved config and output preferences.
pub struct Ctx {
    pub config: Config,
    pub json: bool,
    pub quiet: bool,
}

impl Ctx {
    /// Connects to the broker, failing fast with exit code 3 when it is unreachable.
    pub async fn broker(&self) -> CliResult<crate::broker::Broker> {
        Ok(crate::broker::Broker::connect_with(
            &self.config.broker.value,
            &self.config.broker_options,
        )
        .await?)
    }
}

fn sourced(m: &clap::ArgMatches, id: &str, v: &Option<String>) -> Option<Sourced<String>> {
    let src = match m.value_source(id)? {
        clap::parser::ValueSource::EnvVariable => Source::Env,
        _ => Source::Flag,
    };
    v.clone().map(|v| Sourced::new(v, src))
}

/// The clap command with help that never prints environment values (they may be secrets,
/// and help must read the same everywhere).
pub fn command() -> clap::Command {
    fn hide(cmd: clap::Command) -> clap::Command {
        cmd.mut_args(|a| a.hide_env_values(true))
            .mut_subcommands(hide)
    }
    hide(Cli::command())
}

/// clap's error usage line lists the options that were given, and counts a value from
/// the environment as given: with CIQ_BROKER set, `ciq pause` said `Usage: ciq pause
/// --broker <URL> <QUEUES>...`, as if --broker were required. Parsing again without the
/// `CIQ_*` variables that clap reads gives the plain usage; that error is used when it
/// is the same kind of error (else a variable's value was the problem: keep the first).
fn without_env_in_usage(e: clap::Error) -> clap::Error {
    fn envs(cmd: &clap::Command, out: &mut Vec<std::ffi::OsString>) {
        out.extend(
            cmd.get_arguments()
                .filter_map(|a| a.get_env().map(Into::into)),
        );
        for sub in cmd.get_subcommands() {
            envs(sub, out);
        }
    }
    if !e.use_stderr() {
        return e;
    }
    let mut names = vec![];
    envs(&command(), &mut names);
    names.retain(|n| std::env::var_os(n).is_some());
    if names.is_empty() {
        return e;
    }
    // The process exits right after printing this error: nothing reads these again.
    for n in &names {
        std::env::remove_var(n);
    }
    match command().try_get_matches() {
        Err(plain) if plain.kind() == e.kind() => plain,
        _ => e,
    }
}

/// Parses the command line, runs the command, returns the documented exit code.
pub fn main() -> ExitCode {
    let args: Vec<std::ffi::OsString> = std::env::args_os().collect();
    if args
        .get(1)
        .is_some_and(|a| a == crate::runner::fence::SUPERVISE_ARG)
    {
        // The fencing supervisor of one `exec` run (started by a worker, not a person).
        let code = crate::runner::fence::supervise(&args[2..]);
        return ExitCode::from(code.clamp(0, 255) as u8);
    }
    if let Ok(me) = std::env::current_exe() {
        crate::runner::fence::use_supervisor(me);
    }
    let matches = match command().try_get_matches() {
        Ok(m) => m,
        Err(e) => {
            let e = without_env_in_usage(e);
            let _ = e.print();
            return ExitCode::from(if e.use_stderr() { 2 } else { 0 });
        }
    };
    let cli = match Cli::from_arg_matches(&matches) {
        Ok(c) => c,
        Err(e) => {
            let _ = e.print();
            return ExitCode::from(2);
        }
    };
    let ov = Overrides {
        config: cli.config.clone(),
        broker: sourced(&matches, "broker", &cli.broker),
        database: sourced(&matches, "database", &cli.database),
    };
    let config = match config::load(&ov) {
        Ok(c) => c,
        Err(e) => return CliError::from(e).report(),
    };
    if let Some(ca) = &config.broker_ca_file {
        if let Err(e) = crate::broker::set_broker_ca_file(ca) {
            return CliError::from(e).report();
        }
    }
    // Long-running commands log these (JSON off a terminal); the others say them here.
    if !matches!(
        cli.command,
        Command::Work(_) | Command::Beat(_) | Command::Up(_)
    ) {
        for w in &config.warnings {
            eprintln!("warning: {w}");
        }
    }
    let ctx = Ctx {
        config,
        json: cli.json,
        quiet: cli.quiet,
    };
    let rt = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => return CliError::failure(format!("cannot start runtime: {e}")).report(),
    };
    match rt.block_on(dispatch(cli.command, &ctx)) {
        Ok(code) => code,
        Err(e) => e.report(),
    }
}

async fn dispatch(cmd: Command, ctx: &Ctx) -> CliResult<ExitCode> {
    match cmd {
        Command::Enqueue(a) => enqueue::run(a, ctx).await,
        Command::Work(a) => work::run(a, ctx).await,
        Command::Beat(a) => beat::run(a, ctx).await,
        Command::Depth(a) => depth::run(a, ctx).await,
        Command::Purge(a) => purge::run(a, ctx).await,
        Command::Inspect(c) => inspect::run(c, ctx).await,
        Command::Requeue(a) => requeue::run(a, ctx).await,
        Command::Cancel(a) => cancel::run(a, ctx).await,
        Command::Pause(a) => pause::run_pause(a, ctx).await,
        Command::Resume(a) => pause::run_resume(a, ctx).await,
        Command::Status(a) => status::run(a, ctx).await,
        Command::Top(a) => top::run(a, ctx).await,
        Command::Config(c) => config_show::run(c, ctx).await,
        Command::Platform(c) => platform::run(c, ctx).await,
        Command::Up(a) => up::run(a, ctx).await,
        Command::Web(a) => web::run(a, ctx).await,
        Command::CronGuard(a) => rollout::cron_guard::run(a, ctx).await,
        Command::MigrateFromCron(a) => rollout::migrate::run(a, ctx).await,
        Command::Rollback(a) => rollout::rollback::run(a, ctx).await,
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn clap_definition_is_valid() {
        use clap::CommandFactory;
        super::Cli::command().debug_assert();
    }
}
