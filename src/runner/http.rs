//! `http` runner: PLACEHOLDER until the platform work lands (see issue 4).

use super::{RunOutcome, RunRequest};
use std::time::Duration;

pub async fn run(
    _url: &str,
    _timeout: Option<Duration>,
    _connect_timeout: Option<Duration>,
    _token_env: Option<&str>,
    _req: &RunRequest<'_>,
) -> RunOutcome {
    RunOutcome::Permanent {
        error: "http runner not implemented yet".into(),
        output: String::new(),
    }
}
