//! One integration test binary; each module covers one area against a real redis-server.

mod harness;

mod at_most_one_run;
mod beat;
mod beat_crash;
mod beat_inspect;
mod command_line_checks;
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
mod log_lines;
mod monitoring;
mod operator;
mod platform;
mod platform_real;
mod queue_core;
mod readme_first;
mod readme_tour;
mod rollout;
mod scale;
mod secrets;
mod stage1_guard;
mod stage_table;
mod tls;
mod top;
mod web;
