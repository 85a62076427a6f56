//! The three platform tasks. Each returns `Result<Outcome>`: a database error becomes a
//! retry in the handler.

pub mod discover;
pub mod expire;
pub mod start;

use super::TestId;
use crate::config::{Config, RunnerSpec};

/// `test_id` from the task's args: a number or a numeric string.
pub fn test_id_arg(args: &serde_json::Map<String, serde_json::Value>) -> Result<TestId, String> {
    let v = args
        .get("test_id")
        .ok_or_else(|| "missing argument test_id".to_string())?;
    let n = match v {
        serde_json::Value::Number(n) => n.as_i64(),
        serde_json::Value::String(s) => s.trim().parse::<i64>().ok(),
        _ => None,
    };
    n.and_then(|n| TestId::try_from(n).ok())
        .filter(|n| *n > 0)
        .ok_or_else(|| format!("argument test_id must be a positive integer, got {v}"))
}

/// The runner that starts a test's VM: `[platform] start_vm`, else
/// `[tasks.start_test] runner`.
pub fn start_runner(cfg: &Config) -> Option<&RunnerSpec> {
    cfg.platform
        .start_vm
        .as_ref()
        .or_else(|| cfg.task("start_test").and_then(|t| t.runner.as_ref()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn test_id_accepts_numbers_and_numeric_strings_only() {
        let m = |v: serde_json::Value| v.as_object().cloned().unwrap_or_default();
        assert_eq!(test_id_arg(&m(json!({"test_id": 42}))), Ok(42));
        assert_eq!(test_id_arg(&m(json!({"test_id": " 7"}))), Ok(7));
        assert!(test_id_arg(&m(json!({"test_id": "x"}))).is_err());
        assert!(test_id_arg(&m(json!({"test_id": 0}))).is_err());
        assert!(test_id_arg(&m(json!({"test_id": 99999999999u64}))).is_err());
        assert!(test_id_arg(&m(json!({}))).is_err());
    }
}
