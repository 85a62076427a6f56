//! The on-disk `ciq.toml`, exactly as written by the operator (every field optional).
//! Unknown keys are errors so a typo never silently falls back to a default.

use super::duration::Dur;
use super::platform::PlatformFile;
use super::rollout::RolloutFile;
use super::schedule::{BeatFile, ScheduleFile};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConfigFile {
    /// A URL, or a `[broker]` table (see `config/broker.rs`).
    #[serde(default, deserialize_with = "super::broker::url_or_table")]
    pub broker: Option<super::broker::BrokerTable>,
    /// File holding the Redis password (first line), kept out of the URL and this file.
    pub broker_password_file: Option<String>,
    /// Redis ACL user name for that password.
    pub broker_user: Option<String>,
    /// PEM file of the CA that signed the Redis server's certificate (rediss://).
    pub broker_ca_file: Option<String>,
    pub database: Option<String>,
    /// queue name = weight
    pub queues: Option<BTreeMap<String, u32>>,
    #[serde(default)]
    pub tasks: BTreeMap<String, TaskFile>,
    /// None (no `[schedule]` section) means the built-in entries.
    pub schedule: Option<BTreeMap<String, ScheduleFile>>,
    #[serde(default)]
    pub beat: BeatFile,
    #[serde(default)]
    pub worker: WorkerFile,
    #[serde(default)]
    pub rollout: RolloutFile,
    #[serde(default)]
    pub platform: PlatformFile,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TaskFile {
    pub queue: Option<String>,
    pub max_retries: Option<u32>,
    pub backoff: Option<Dur>,
    pub backoff_max: Option<Dur>,
    pub soft_time_limit: Option<Dur>,
    pub time_limit: Option<Dur>,
    pub unique: Option<String>,
    pub runner: Option<RunnerSpec>,
}

/// How a task's work is done outside ciq.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(untagged, deny_unknown_fields)]
pub enum RunnerSpec {
    /// argv template; `{name}` placeholders are replaced by task arguments.
    Exec {
        exec: Vec<String>,
        /// Extra environment for the process; values may be secrets, so they are
        /// never serialized (`config show` prints the names only).
        #[serde(default, serialize_with = "env_names_only")]
        env: BTreeMap<String, String>,
        /// Names (or `PREFIX*` patterns) of the worker's environment the process may
        /// inherit; absent = all of it. ciq's own `CIQ_*` variables never pass.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        env_allow: Option<Vec<String>>,
        /// Names (or `PREFIX*` patterns) of the worker's environment it never inherits.
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        env_deny: Vec<String>,
    },
    /// POST the JSON args to this URL.
    Http {
        http: String,
        #[serde(default)]
        timeout: Option<Dur>,
        #[serde(default)]
        connect_timeout: Option<Dur>,
        /// Name of an environment variable whose value is sent as a bearer token.
        #[serde(default)]
        token_env: Option<String>,
    },
}

pub(crate) fn env_names_only<S: serde::Serializer>(
    env: &BTreeMap<String, String>,
    s: S,
) -> Result<S::Ok, S::Error> {
    s.collect_map(env.keys().map(|k| (k, "***")))
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WorkerFile {
    pub concurrency: Option<usize>,
    pub lease: Option<Dur>,
    pub heartbeat: Option<Dur>,
    pub sweep: Option<Dur>,
    pub upkeep_lease: Option<Dur>,
    pub shutdown_timeout: Option<Dur>,
    pub max_deliveries: Option<u32>,
    pub dead_max: Option<u64>,
    pub history_retention: Option<Dur>,
    pub history_max: Option<u64>,
    pub metrics_addr: Option<std::net::SocketAddr>,
}
