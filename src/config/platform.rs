//! `[platform]`: the CI platform's database and the VM runners.

use super::duration::Dur;
use serde::Deserialize;

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PlatformFile {
    pub max_runtime: Option<Dur>,
    pub platforms: Option<Vec<String>>,
}
