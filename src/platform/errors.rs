//! What a contributor is told when a test cannot be started (DESIGN §1). Raw cloud
//! error text can name projects and zones: it goes to the worker's log only, never into
//! these messages.

/// Progress message when an instance outlived `max_runtime`.
pub const TIME_LIMIT_EXCEEDED: &str = "Could not complete test, time limit exceeded";
/// Progress message when starting the VM hit the task's soft time limit.
pub const TASK_TIMED_OUT: &str = "Task timed out";

/// The contributor message for a failed VM start with this cloud error code (if any).
pub fn contributor_message(code: Option<&str>) -> String {
    match code.map(str::trim) {
        Some("ZONE_RESOURCE_POOL_EXHAUSTED" | "ZONE_RESOURCE_POOL_EXHAUSTED_WITH_DETAILS") => {
            "The cloud zone is temporarily out of resources for test VMs. The start was retried automatically without success; please try again later.".into()
        }
        Some("QUOTA_EXCEEDED") => "The CI platform's cloud quota is reached. The start was retried automatically without success; please try again later.".into(),
        Some("RESOURCE_NOT_FOUND") => "VM creation failed: a cloud resource the test VM needs was not found. Please contact the administrator.".into(),
        Some("RESOURCE_ALREADY_EXISTS") => "VM creation failed: a VM with this test's name already exists. Please contact the administrator.".into(),
        Some("TIMEOUT") => "VM creation timed out. It was retried automatically without success; please try again later.".into(),
        Some(other) => format!("VM creation failed ({}). Please contact the administrator.", safe_code(other)),
        None => "VM creation failed. Please contact the administrator.".into(),
    }
}

/// A code is shown only if it looks like one (`UPPER_SNAKE`, bounded); anything else
/// could be raw text from the cloud.
fn safe_code(code: &str) -> &str {
    let ok = !code.is_empty()
        && code.len() <= 64
        && code
            .chars()
            .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_');
    if ok {
        code
    } else {
        "UNKNOWN"
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_codes_get_the_generic_text_and_nothing_raw() {
        assert_eq!(
            contributor_message(Some("SOME_NEW_ERROR")),
            "VM creation failed (SOME_NEW_ERROR). Please contact the administrator."
        );
        assert_eq!(
            contributor_message(Some("project my-proj in europe-west1-b")),
            "VM creation failed (UNKNOWN). Please contact the administrator."
        );
        assert!(contributor_message(Some("QUOTA_EXCEEDED")).contains("quota"));
        assert!(contributor_message(None).contains("administrator"));
    }
}
