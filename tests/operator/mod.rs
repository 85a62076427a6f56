//! What an operator runs against a live queue: `status`, `depth --check`, `inspect`,
//! `purge`, `pause`/`resume`, `config show`, `top`, the metrics endpoint and the
//! monitoring kit, the `--json` schemas of the read commands, and the log lines.

mod config_show;
mod depth;
mod history_trim;
mod inspect;
mod json_schemas;
mod log_lines;
mod metrics;
mod pause;
mod pending_record;
mod purge;
mod status;
mod top;
