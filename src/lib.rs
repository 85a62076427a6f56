//! ciq — a Redis-backed task queue and rollout toolkit for a CI platform.
//!
//! Modules, from the bottom up (each depends only on those listed before it; nothing
//! imports upward, as `farm-studio look` draws the floors):
//! - The ground, which imports nothing of ciq and which every layer may use:
//!   - `secrets`: which names hold secrets, redaction, what a runner's child never inherits.
//!   - `output`: tables / JSON / progress for the CLI.
//!   - `cron`: when a periodic entry fires (`every`, or a crontab expression in a time
//!     zone); the one reader of cron expressions (config checks, beat, rollout gates).
//!   - `template`: `{name}` placeholders filled from a task's args (unique keys, argv).
//!   - `backoff`: the doubling wait between retries (worker, finisher, broker connect, Sentinel, beat).
//!   - `shutdown`: the stop signal (`Shutdown` levels) every long-running part listens to.
//!   - `sys`: files edited safely, byte-exact lines, programs run with a time limit.
//! - `broker`: Redis keys, Lua transitions, the envelope; the only code that talks to Redis
//!   about tasks.
//! - `config`: flags > `CIQ_*` env > `ciq.toml` > defaults, with the source of each value.
//! - `metrics`: Prometheus metrics (prometheus-client, OpenMetrics text) served by axum for
//!   `work`, `beat`, `up` and `web`.
//! - `submit`: a task's message from its name and args, checked against the config; every
//!   path that enqueues comes through it.
//! - `runner`: how a task's work is done outside ciq (`exec` process, `http` POST).
//! - `rollout`: the staged migration from cron and the rollback.
//! - `web`: `ciq web`, the dashboard and JSON API (over `broker`, `metrics` and `output`).
//! - `worker`: claims, runs (through `runner`), settles each run's outcome, heartbeats,
//!   sweeps, shuts down gracefully.
//! - `beat`: the periodic scheduler (leader lease + per-tick idempotency).
//! - `platform`: the CI platform's database (sqlx) and its three tasks (worker handlers).
//! - `cli`: one file per subcommand; `cli::main` is what the binary calls.

pub mod backoff;
pub mod beat;
pub mod broker;
pub mod cli;
pub mod config;
pub mod cron;
pub mod metrics;
pub mod output;
pub mod platform;
pub mod rollout;
pub mod runner;
pub mod secrets;
pub mod shutdown;
pub mod submit;
pub mod sys;
pub mod template;
pub mod web;
pub mod worker;
