//! One integration test binary; each module covers one area against a real redis-server.

mod harness;

mod beat;
mod beat_inspect;
mod faults;
mod fencing;
mod generated;
mod hardening;
mod hygiene;
mod install;
mod json_schemas;
mod limits;
mod operator;
mod platform;
mod queue_core;
mod rollout;
mod scale;
mod secrets;
mod tls;
