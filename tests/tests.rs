//! One integration test binary; each module covers one area against a real redis-server.

mod harness;

mod beat;
mod beat_crash;
mod beat_inspect;
mod config_show;
mod faults;
mod fencing;
mod first_hour;
mod generated;
mod hardening;
mod hygiene;
mod inspect_task;
mod install;
mod json_schemas;
mod limits;
mod monitoring;
mod operator;
mod platform;
mod platform_real;
mod queue_core;
mod readme_tour;
mod rollout;
mod scale;
mod secrets;
mod tls;
mod top;
mod web;
