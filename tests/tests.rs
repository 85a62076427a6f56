//! One integration test binary; each module covers one behaviour against a real
//! redis-server, named so a newcomer finds a behaviour's test by its name.

#[macro_use]
mod harness;

mod at_most_one_run;
mod beat;
mod cli;
mod delayed;
mod docs;
mod faults;
mod fencing;
mod hygiene;
mod install;
mod operator;
mod platform;
mod platform_real;
mod queue;
mod retries;
mod rollout;
mod scale;
mod secrets;
mod time_limits;
mod tls;
mod unique;
mod web;
