//! Building a task message from its name and arguments, using the task's configuration
//! (queue, retries, unique-key template). Shared by `ciq enqueue`, beat and discovery.

use crate::broker::Envelope;
use crate::config::Config;

pub type Args = serde_json::Map<String, serde_json::Value>;

/// The envelope for `task` with `args`: queue (or `queue`), max retries and unique key
/// (`unique`, else the task's template) from the config. Errors are one line. Every path
/// that builds a message comes through here (enqueue, beat, discovery, `ciq up`), so a
/// secret in the args (at any depth) or in the unique key is refused here for all.
pub fn build_envelope(
    cfg: &Config,
    task: &str,
    args: Args,
    queue: Option<&str>,
    unique: Option<&str>,
) -> Result<Envelope, String> {
    if let Some(path) = crate::secrets::find_secret_arg(&args) {
        return Err(crate::secrets::refusal(&format!("argument {path:?}")));
    }
    let t = cfg.task(task).ok_or_else(|| {
        format!(
            "unknown task {task:?}; known tasks: {}",
            cfg.tasks.keys().cloned().collect::<Vec<_>>().join(", ")
        )
    })?;
    check_arg_types(task, &args)?;
    let queue = queue.unwrap_or(&t.queue).to_string();
    crate::broker::keys::validate_queue_name(&queue)?;
    let unique_key = match (unique, &t.unique) {
        (Some(u), _) => Some(u.to_string()),
        (None, Some(tpl)) => Some(crate::template::render(tpl, &args)?),
        (None, None) => None,
    };
    if unique_key
        .as_deref()
        .is_some_and(crate::secrets::unique_has_secret)
    {
        return Err(crate::secrets::refusal("the unique key"));
    }
    Ok(Envelope {
        unique_key,
        ..Envelope::new(task, &queue, args, t.max_retries)
    })
}

/// The built-in tasks' declared argument types, enforced when the task is queued (not
/// when a worker first meets it): `start_test` needs `test_id`, a positive integer.
fn check_arg_types(task: &str, args: &Args) -> Result<(), String> {
    match task {
        "start_test" => test_id_arg(args)
            .map(|_| ())
            .map_err(|e| format!("start_test: {e}")),
        _ => Ok(()),
    }
}

/// `test_id` from the task's args (`start_test`): a number or a numeric string, as the
/// platform's `TestId`.
pub fn test_id_arg(args: &Args) -> Result<i32, String> {
    let v = args
        .get("test_id")
        .ok_or_else(|| "missing argument test_id".to_string())?;
    let n = match v {
        serde_json::Value::Number(n) => n.as_i64(),
        serde_json::Value::String(s) => s.trim().parse::<i64>().ok(),
        _ => None,
    };
    n.and_then(|n| i32::try_from(n).ok())
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
