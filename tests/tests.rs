//! One integration test binary; each module covers one area against a real redis-server.

mod harness;

mod platform;
mod queue_core;
