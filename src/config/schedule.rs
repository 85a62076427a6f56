//! `[schedule.NAME]` entries for `ciq beat`.

use super::duration::Dur;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ScheduleFile {
    /// Task to enqueue; defaults to the entry's name.
    pub task: Option<String>,
    #[serde(default)]
    pub args: serde_json::Map<String, serde_json::Value>,
    pub queue: Option<String>,
    pub every: Option<Dur>,
    /// 5-field cron expression.
    pub cron: Option<String>,
    /// IANA time zone for `cron`; UTC by default.
    pub timezone: Option<String>,
}
