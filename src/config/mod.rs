//! Resolved configuration: flags > `CIQ_*` env > `ciq.toml` > built-in defaults.
//!
//! `file.rs` is the raw file, `load.rs` finds and parses it, this module holds the
//! resolved values that the rest of ciq reads, each scalar with the layer it came from.

mod broker;
pub mod checks;
pub mod config_py;
pub mod duration;
pub mod file;
mod load;
pub mod platform;
pub mod rollout;
pub mod schedule;

pub use duration::{parse_duration, Dur};
pub use file::RunnerSpec;
pub use load::{load, ConfigError, Overrides};

use serde::Serialize;
use std::collections::BTreeMap;
use std::path::PathBuf;

/// Where a resolved value came from (shown by `ciq config show`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Source {
    Default,
    File,
    /// The platform's config.py (`[platform] config_py`).
    #[serde(rename = "config.py")]
    ConfigPy,
    Env,
    Flag,
}

#[derive(Debug, Clone, Serialize)]
pub struct Sourced<T> {
    pub value: T,
    pub source: Source,
}

impl<T> Sourced<T> {
    pub fn new(value: T, source: Source) -> Self {
        Sourced { value, source }
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct Config {
    /// The config file that was read, if any.
    pub file: Option<PathBuf>,
    pub broker: Sourced<String>,
    /// `[broker]` options: acknowledged writes, Sentinel credentials (never serialized).
    #[serde(skip)]
    pub broker_options: crate::broker::BrokerOptions,
    /// CA for a `rediss://` broker with a private CA (`broker_ca_file`, `CIQ_BROKER_CA_FILE`).
    pub broker_ca_file: Option<PathBuf>,
    pub database: Sourced<String>,
    /// Queues in declaration order with their weights.
    pub queues: Sourced<Vec<QueueConfig>>,
    pub tasks: BTreeMap<String, TaskConfig>,
    pub schedule: BTreeMap<String, schedule::ScheduleFile>,
    pub beat: schedule::BeatConfig,
    pub worker: WorkerConfig,
    #[serde(skip)]
    pub rollout: rollout::RolloutFile,
    #[serde(skip)]
    pub platform: platform::PlatformFile,
    /// Where a setting came from when its value alone does not say (dotted key, e.g.
    /// `platform.max_runtime` from config.py, `beat.lease` from the file). Keys absent
    /// here are defaults unless the file set them (`config show` reads this).
    #[serde(skip)]
    pub sources: BTreeMap<String, Source>,
    /// Accepted but outdated settings (an old key name): said once on stderr, or logged
    /// as a warning by `work`, `beat` and `up`.
    #[serde(skip)]
    pub warnings: Vec<String>,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct QueueConfig {
    pub name: String,
    pub weight: u32,
}

#[derive(Debug, Clone, Serialize)]
pub struct TaskConfig {
    pub queue: String,
    pub max_retries: u32,
    pub backoff: Dur,
    pub backoff_max: Dur,
    pub soft_time_limit: Option<Dur>,
    pub time_limit: Option<Dur>,
    /// Template such as `start_test:{test_id}`.
    pub unique: Option<String>,
    pub runner: Option<RunnerSpec>,
    pub source: Source,
}

/// Timing knobs; small values make the kill/recovery tests take seconds.
#[derive(Debug, Clone, Serialize)]
pub struct WorkerConfig {
    pub concurrency: usize,
    /// How long a claimed task is owned without a heartbeat renewing it.
    pub lease: Dur,
    pub heartbeat: Dur,
    /// How often each worker looks for expired leases.
    pub sweep: Dur,
    /// How long one worker keeps a queue's upkeep (promotion and sweeping) without
    /// renewing it; the others retry about once per period.
    pub upkeep_lease: Dur,
    pub shutdown_timeout: Dur,
    /// Deliveries (claims) after which a task is treated as poison.
    pub max_deliveries: u32,
    /// Dead tasks kept per queue (oldest trimmed).
    pub dead_max: u64,
    /// How long `inspect task` can show a task after it ended.
    pub history_retention: Dur,
    /// At most this many ended tasks' histories per queue (bounds Redis memory).
    pub history_max: u64,
    /// Serve Prometheus metrics here (`--metrics-addr`, `[worker] metrics_addr`).
    pub metrics_addr: Option<std::net::SocketAddr>,
    /// Which of these keys the config file set (the rest are defaults).
    #[serde(skip)]
    pub from_file: std::collections::BTreeSet<&'static str>,
}

impl Default for WorkerConfig {
    fn default() -> Self {
        WorkerConfig {
            concurrency: 8,
            lease: Dur::secs(20),
            heartbeat: Dur::secs(5),
            sweep: Dur::secs(5),
            upkeep_lease: Dur::secs(10),
            shutdown_timeout: Dur::secs(30),
            max_deliveries: 20,
            dead_max: 100_000,
            history_retention: Dur::secs(24 * 3600),
            history_max: 100_000,
            metrics_addr: None,
            from_file: Default::default(),
        }
    }
}

/// Tasks that run the platform's code through the bridge (never a configured runner).
pub const PLATFORM_TASKS: &[&str] = &["start_test", "maintain", "process_pending_tests"];

pub const DEFAULT_BROKER: &str = "redis://127.0.0.1:6379/0";
pub const DEFAULT_DATABASE: &str = "sqlite://ciq-platform.db";

/// The queues the platform uses, with their default weights.
pub fn default_queues() -> Vec<QueueConfig> {
    [("test_execution", 6), ("default", 3), ("maintenance", 1)]
        .into_iter()
        .map(|(n, w)| QueueConfig {
            name: n.into(),
            weight: w,
        })
        .collect()
}

impl TaskConfig {
    /// A task on `queue` with the default retry backoff (30 s doubling to 10 min), no
    /// time limits, no unique key and no runner.
    pub fn plain(queue: &str, max_retries: u32, source: Source) -> TaskConfig {
        TaskConfig {
            queue: queue.into(),
            max_retries,
            backoff: Dur::secs(30),
            backoff_max: Dur::secs(600),
            soft_time_limit: None,
            time_limit: None,
            unique: None,
            runner: None,
            source,
        }
    }
}

/// Built-in tasks and their defaults; the file may override any field.
pub fn default_task(name: &str) -> Option<TaskConfig> {
    let base =
        |queue: &str, max_retries: u32| TaskConfig::plain(queue, max_retries, Source::Default);
    Some(match name {
        "noop" => base("default", 3),
        // A start that waits (artifact not built, no capacity) is deferred, never a
        // failed attempt; retries are for the bridge itself failing.
        "start_test" => TaskConfig {
            soft_time_limit: Some(Dur::secs(3600)),
            time_limit: Some(Dur::secs(3900)),
            unique: Some("start_test:{test_id}".into()),
            ..base("test_execution", 5)
        },
        "process_pending_tests" => TaskConfig {
            unique: Some("process_pending_tests".into()),
            time_limit: Some(Dur::secs(300)),
            ..base("default", 3)
        },
        "maintain" => TaskConfig {
            unique: Some("maintain".into()),
            time_limit: Some(Dur::secs(1800)),
            ..base("maintenance", 3)
        },
        _ => return None,
    })
}

/// Tasks a graceful stop lets finish past the worker's shutdown timeout, and for how
/// long at most: a platform start cut midway leaves a half-made VM and no `gcp_instance`
/// row. The platform's own start waits at most 300 s for the artifact download
/// (ARTIFACT_DOWNLOAD_TIMEOUT) and 60 s for the VM create to be verified
/// (GCP_VM_CREATE_VERIFY_TIMEOUT), plus its GitHub (30 s) and GCP (60 s) API calls:
/// ten minutes covers it. A second signal cuts it anyway.
pub const FINISH_ON_STOP: &[(&str, std::time::Duration)] =
    &[("start_test", std::time::Duration::from_secs(600))];

pub const BUILTIN_TASKS: &[&str] = &["noop", "start_test", "process_pending_tests", "maintain"];

impl Config {
    pub fn task(&self, name: &str) -> Option<&TaskConfig> {
        self.tasks.get(name)
    }

    pub fn queue_names(&self) -> Vec<String> {
        self.queues.value.iter().map(|q| q.name.clone()).collect()
    }
}
