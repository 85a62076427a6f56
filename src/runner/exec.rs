//! `exec` runner: PLACEHOLDER until the platform work lands (see issue 4).

use super::{RunOutcome, RunRequest};
use std::collections::BTreeMap;

pub async fn run(
    _argv: &[String],
    _env: &BTreeMap<String, String>,
    _req: &RunRequest<'_>,
) -> RunOutcome {
    RunOutcome::Permanent {
        error: "exec runner not implemented yet".into(),
        output: String::new(),
    }
}
