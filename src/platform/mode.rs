//! Whether ciq starts tests now (active) or only watches what the cron starts (shadow).
//! With `mode = "auto"` (the default) the platform's own flag in config.py decides, read
//! at run time, so flipping the flag (stage 1 → 2) needs no ciq restart.

use crate::config::config_py::{self, FlagValue};
use crate::config::platform::Mode;
use crate::config::Config;
use serde::Serialize;

/// The default name of the platform's flag (the Celery PR's).
pub const DEFAULT_FLAG: &str = "USE_CELERY_TASKS";

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Effective {
    Active,
    Shadow,
}

/// The mode now. Auto without config.py (the embedded default) is active.
pub fn effective(cfg: &Config) -> Result<Effective, String> {
    match cfg.platform.mode() {
        Mode::Active => Ok(Effective::Active),
        Mode::Shadow => Ok(Effective::Shadow),
        Mode::Auto => {
            let Some(path) = cfg.platform.config_py.as_deref() else {
                return Ok(Effective::Active);
            };
            let flag = cfg.rollout.flag.as_deref().unwrap_or(DEFAULT_FLAG);
            let text = std::fs::read_to_string(path)
                .map_err(|e| format!("cannot read the platform's config {path}: {e}"))?;
            match config_py::read(&text, flag) {
                FlagValue::True => Ok(Effective::Active),
                FlagValue::False | FlagValue::Missing => Ok(Effective::Shadow),
                FlagValue::Other(e) => Err(format!(
                    "{path}: {flag} is an expression ({e}); set [platform] mode = \"active\" or \"shadow\""
                )),
            }
        }
    }
}
