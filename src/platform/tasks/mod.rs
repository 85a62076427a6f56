//! The three platform tasks: `process_pending_tests` (discovery, ciq's own query),
//! `start_test` and `maintain` (the platform's own code, through the bridge).

pub mod discover;
pub mod maintain;
pub mod start;

use super::TestId;

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
