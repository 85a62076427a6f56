//! Cloud error reports printed by a runner (exec stdout, http response body).
//!
//! The shape ciq understands (one JSON object; pretty-printed is fine, it may follow
//! other output as the last thing printed):
//!
//! ```json
//! {"error": {"code": "ZONE_RESOURCE_POOL_EXHAUSTED", "message": "free text"}}
//! ```
//!
//! The Compute Engine operation shape `{"error": {"errors": [{"code": "...",
//! "message": "..."}]}}` is read too (the first entry counts). Known codes (`classify`)
//! decide whether the run is retried; an unknown code keeps the class the exit status or HTTP
//! status gave. The message is raw cloud text (project names, zones): it goes to the
//! worker's log only, never to contributors.

use serde_json::Value;

/// A cloud error code and its raw message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CloudError {
    pub code: String,
    pub message: String,
}

/// What a known code means for the run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Class {
    Retryable,
    Permanent,
}

/// The Compute Engine codes a VM start meets and whether retrying can help: an exhausted
/// zone, a quota or a timeout can clear up; a missing or already existing resource will not.
pub fn classify(code: &str) -> Option<Class> {
    Some(match code {
        "ZONE_RESOURCE_POOL_EXHAUSTED"
        | "ZONE_RESOURCE_POOL_EXHAUSTED_WITH_DETAILS"
        | "QUOTA_EXCEEDED"
        | "TIMEOUT" => Class::Retryable,
        "RESOURCE_NOT_FOUND" | "RESOURCE_ALREADY_EXISTS" => Class::Permanent,
        _ => return None,
    })
}

/// Finds the cloud error report in a runner's output: the whole text, else the last
/// line that is one, else a (pretty-printed) object starting at the beginning of a line.
pub fn find(text: &str) -> Option<CloudError> {
    let text = text.trim();
    if let Some(e) = from_json(text) {
        return Some(e);
    }
    let lines: Vec<&str> = text.lines().collect();
    if let Some(e) = lines.iter().rev().find_map(|l| from_json(l.trim())) {
        return Some(e);
    }
    let mut offset = text.len();
    for line in lines.iter().rev() {
        offset -= line.len();
        if line.starts_with('{') {
            if let Some(e) = from_json(text[offset..].trim()) {
                return Some(e);
            }
        }
        offset = offset.saturating_sub(1);
    }
    None
}

fn from_json(s: &str) -> Option<CloudError> {
    if !s.starts_with('{') {
        return None;
    }
    let v: Value = serde_json::from_str(s).ok()?;
    let err = v.get("error")?;
    let entry = match err.get("code") {
        Some(Value::String(_)) => err,
        _ => err.get("errors")?.as_array()?.first()?,
    };
    let code = entry.get("code")?.as_str()?.trim();
    if code.is_empty() {
        return None;
    }
    Some(CloudError {
        code: code.to_string(),
        message: entry
            .get("message")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_one_line_report_after_other_output() {
        let out = "creating vm linux-42\n{\"error\": {\"code\": \"QUOTA_EXCEEDED\", \"message\": \"project p1\"}}\n";
        let e = find(out).unwrap();
        assert_eq!(e.code, "QUOTA_EXCEEDED");
        assert_eq!(e.message, "project p1");
        assert_eq!(classify(&e.code), Some(Class::Retryable));
    }

    #[test]
    fn finds_pretty_printed_operation_shape() {
        let out = "log line\n{\n  \"error\": {\n    \"errors\": [\n      {\"code\": \"RESOURCE_ALREADY_EXISTS\", \"message\": \"x\"}\n    ]\n  }\n}";
        assert_eq!(find(out).unwrap().code, "RESOURCE_ALREADY_EXISTS");
        assert_eq!(classify("RESOURCE_ALREADY_EXISTS"), Some(Class::Permanent));
    }

    #[test]
    fn ignores_non_reports() {
        assert_eq!(find("all good\n{\"ok\": true}"), None);
        assert_eq!(find("{\"error\": \"plain string\"}"), None);
        assert_eq!(find(""), None);
        assert_eq!(classify("SOMETHING_NEW"), None);
    }
}
