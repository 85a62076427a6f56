//! ciq — a Redis-backed task queue and rollout toolkit for a CI platform.
//!
//! Modules, from the bottom up (each depends only on those above it):
//! - `secrets`: which names hold secrets, redaction, what a runner's child never inherits.
//! - `config`: flags > `CIQ_*` env > `ciq.toml` > defaults, with the source of each value.
//! - `broker`: Redis keys, Lua transitions, the envelope; the only code that talks to Redis
//!   about tasks.
//! - `runner`: how a task's work is done outside ciq (`exec` process, `http` POST).
//! - `platform`: the CI platform's database (sqlx) and its three tasks.
//! - `metrics`: Prometheus metrics (prometheus-client, OpenMetrics text) served by axum for
//!   `work`, `beat`, `up` and `web`.
//! - `worker`: claims, runs, heartbeats, sweeps, shuts down gracefully.
//! - `beat`: the periodic scheduler (leader lease + per-tick idempotency).
//! - `rollout`: the staged migration from cron and the rollback.
//! - `output`: tables / JSON / progress for the CLI.
//! - `web`: `ciq web`, the dashboard and JSON API (over `broker` and `output`).
//! - `cli`: one file per subcommand; `cli::main` is what the binary calls.

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
pub mod template;
pub mod web;
pub mod worker;
