//! The rollout room: moving the platform from its cron job to the queue and back.
//! `migrate-from-cron` (`migrate.rs`: `status.rs` reads the stage, `go.rs` moves it),
//! `rollback` (`rollback.rs`), and `cron-guard` (`cron_guard.rs`, what the guarded cron
//! line runs). `ui.rs` prints plans, runs steps and asks; `stop_watch.rs` shows a
//! worker's stop live while a step waits for it. The rollout itself is `crate::rollout`.

pub(super) mod cron_guard;
mod go;
pub(super) mod migrate;
pub(super) mod rollback;
mod status;
mod stop_watch;
mod ui;
