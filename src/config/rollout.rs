//! `[rollout]`: where the platform's config, cron entry and services live.

use serde::Deserialize;

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RolloutFile {
    pub platform_config: Option<String>,
    pub flag: Option<String>,
    pub cron_match: Option<String>,
    /// "user" or a path such as /etc/cron.d/sample-platform
    pub crontab: Option<String>,
    pub platform_unit: Option<String>,
}
