//! Secrets, in one place: which argument names hold secrets, finding one anywhere in a
//! task's args (nested objects and arrays) or in a unique key, redacting JSON and URLs
//! for output and logs, and which environment variables a runner's child never inherits.
//!
//! Ground level: depends on nothing else in ciq, so every layer (config, broker, runner,
//! worker, cli) uses the same rules.

use serde_json::Value;

/// What a redacted value is replaced with.
pub const REDACTED: &str = "***";

/// Substrings that make a name a secret wherever they appear (`github_token`, `dbPassword`).
const SECRET_PARTS: &[&str] = &[
    "password",
    "passwd",
    "passphrase",
    "secret",
    "token",
    "credential",
    "bearer",
    "cookie",
    "session",
    "apikey",
    "privatekey",
    "authorization",
];

/// Whole words (split at `_`, `-`, `.`, spaces and camelCase) that make a name a secret:
/// `api_key`, `pwd`, `x-auth`, but not `author` or `monkey`.
const SECRET_WORDS: &[&str] = &["pwd", "pass", "key", "auth", "oauth", "jwt", "otp"];

/// Words of a name, lower-cased: `dbPwd` -> [db, pwd], `api-key` -> [api, key].
fn words(name: &str) -> Vec<String> {
    let mut out = vec![];
    let mut cur = String::new();
    let mut prev_lower = false;
    for ch in name.chars() {
        if !ch.is_alphanumeric() {
            if !cur.is_empty() {
                out.push(std::mem::take(&mut cur));
            }
            prev_lower = false;
            continue;
        }
        if ch.is_uppercase() && prev_lower && !cur.is_empty() {
            out.push(std::mem::take(&mut cur));
        }
        prev_lower = ch.is_lowercase() || ch.is_ascii_digit();
        cur.extend(ch.to_lowercase());
    }
    if !cur.is_empty() {
        out.push(cur);
    }
    out
}

/// True when a name (an argument, an object key, an environment variable) holds a secret.
pub fn is_secret_name(name: &str) -> bool {
    let flat: String = name
        .chars()
        .filter(|c| c.is_alphanumeric())
        .flat_map(char::to_lowercase)
        .collect();
    SECRET_PARTS.iter().any(|p| flat.contains(p))
        || words(name)
            .iter()
            .any(|w| SECRET_WORDS.contains(&w.as_str()))
}

/// True when a string carries a password in a URL (`redis://:pw@host`).
pub fn has_url_password(s: &str) -> bool {
    redact_url(s) != s
}

/// The dotted path of the first secret in `v` (`opts.token`, `hosts[1]`), if any: a key
/// with a secret name, or a string holding a URL with a password.
pub fn find_secret(v: &Value) -> Option<String> {
    fn walk(v: &Value, path: &str) -> Option<String> {
        match v {
            Value::Object(m) => m.iter().find_map(|(k, v)| {
                let p = if path.is_empty() {
                    k.clone()
                } else {
                    format!("{path}.{k}")
                };
                if is_secret_name(k) {
                    Some(p)
                } else {
                    walk(v, &p)
                }
            }),
            Value::Array(a) => a
                .iter()
                .enumerate()
                .find_map(|(i, v)| walk(v, &format!("{path}[{i}]"))),
            Value::String(s) if has_url_password(s) => Some(if path.is_empty() {
                "(value)".into()
            } else {
                path.into()
            }),
            _ => None,
        }
    }
    walk(v, "")
}

/// The first secret in a task's arguments, as a dotted path.
pub fn find_secret_arg(args: &serde_json::Map<String, Value>) -> Option<String> {
    find_secret(&Value::Object(args.clone()))
}

/// True when a unique key would carry a secret into a Redis key name: it names one
/// (`token:abc`, `api_key=…`) or holds a URL with a password.
pub fn unique_has_secret(key: &str) -> bool {
    has_url_password(key) || is_secret_name(key)
}

/// The one-line refusal every path that builds a task message uses.
pub fn refusal(what: &str) -> String {
    format!("{what} looks like a secret; secrets never travel in task messages")
}

/// A copy of `v` with every secret-named value (at any depth) replaced by `***` and
/// passwords in URL strings masked.
pub fn redact_value(v: &Value) -> Value {
    match v {
        Value::Object(m) => Value::Object(redact_args(m)),
        Value::Array(a) => Value::Array(a.iter().map(redact_value).collect()),
        Value::String(s) if has_url_password(s) => Value::String(redact_url(s)),
        other => other.clone(),
    }
}

/// `redact_value` for an args object.
pub fn redact_args(args: &serde_json::Map<String, Value>) -> serde_json::Map<String, Value> {
    args.iter()
        .map(|(k, v)| {
            let v = if is_secret_name(k) {
                Value::String(REDACTED.into())
            } else {
                redact_value(v)
            };
            (k.clone(), v)
        })
        .collect()
}

/// A unique key as shown: masked entirely when it carries a secret.
pub fn redact_unique(key: &str) -> String {
    if unique_has_secret(key) {
        REDACTED.into()
    } else {
        key.into()
    }
}

/// `redis://user:secret@host/0` -> `redis://user:***@host/0` (any scheme), anywhere in `s`.
pub fn redact_url(s: &str) -> String {
    let Some(scheme_end) = s.find("://") else {
        return s.to_string();
    };
    let start = scheme_end + 3;
    // The authority ends at the first '/', '?', '#' or whitespace after the scheme.
    let end = s[start..]
        .find(|c: char| c == '/' || c == '?' || c == '#' || c.is_whitespace())
        .map(|i| start + i)
        .unwrap_or(s.len());
    let authority = &s[start..end];
    let Some(at) = authority.rfind('@') else {
        return format!("{}{}", &s[..end], redact_url(&s[end..]));
    };
    let creds = &authority[..at];
    let shown = match creds.split_once(':') {
        Some((user, _)) => format!("{user}:{REDACTED}"),
        None => creds.to_string(),
    };
    format!(
        "{}{shown}{}{}",
        &s[..start],
        &authority[at..],
        redact_url(&s[end..])
    )
}

/// Environment variables a runner's child never inherits from the worker: ciq's own
/// settings and credentials (`CIQ_BROKER` with its password, `CIQ_BROKER_PASSWORD`,
/// `CIQ_BROKER_PASSWORD_FILE`, `CIQ_DATABASE`, …) and redis-cli's password variable.
pub fn is_ciq_own_env(name: &str) -> bool {
    name.starts_with("CIQ_") || name == "REDISCLI_AUTH"
}

/// `PATH` matches `PATH`; `LC_*` matches every name starting with `LC_`.
fn env_pattern_matches(pattern: &str, name: &str) -> bool {
    match pattern.strip_suffix('*') {
        Some(prefix) => name.starts_with(prefix),
        None => pattern == name,
    }
}

/// The part of the worker's environment a runner's child inherits: never ciq's own
/// variables; when `allow` is given, only names it matches; never names `deny` matches.
pub fn child_env(
    inherited: impl IntoIterator<Item = (String, String)>,
    allow: Option<&[String]>,
    deny: &[String],
) -> Vec<(String, String)> {
    inherited
        .into_iter()
        .filter(|(k, _)| !is_ciq_own_env(k))
        .filter(|(k, _)| allow.is_none_or(|a| a.iter().any(|p| env_pattern_matches(p, k))))
        .filter(|(k, _)| !deny.iter().any(|p| env_pattern_matches(p, k)))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn names_that_hold_secrets() {
        for n in [
            "bot_token",
            "password",
            "dbPwd",
            "pwd",
            "api_key",
            "apiKey",
            "private_key",
            "x-auth",
            "Authorization",
            "bearer",
            "cookie",
            "session_id",
            "client_secret",
            "passwd",
            "credentials",
        ] {
            assert!(is_secret_name(n), "{n}");
        }
        for n in [
            "test_id",
            "author",
            "monkey",
            "name",
            "queue",
            "passed_tests",
        ] {
            assert!(!is_secret_name(n), "{n}");
        }
    }

    #[test]
    fn nested_secrets_are_found_and_redacted() {
        let v = json!({"test_id": 5, "opts": {"deep": [{"pwd": "x"}], "token": "t"}});
        assert_eq!(find_secret(&v).as_deref(), Some("opts.deep[0].pwd"));
        let r = redact_value(&v);
        assert_eq!(r["opts"]["token"], "***");
        assert_eq!(r["opts"]["deep"][0]["pwd"], "***");
        assert_eq!(r["test_id"], 5);
        let u = json!({"target": "redis://:hunter2@h:1/0"});
        assert_eq!(find_secret(&u).as_deref(), Some("target"));
        assert_eq!(redact_value(&u)["target"], "redis://:***@h:1/0");
        assert_eq!(find_secret(&json!({"a": [1, "x"], "b": {"c": 2}})), None);
    }

    #[test]
    fn unique_keys_with_secrets() {
        assert!(unique_has_secret("token:abc"));
        assert!(unique_has_secret("deploy:api_key=1"));
        assert!(!unique_has_secret("start_test:42"));
        assert_eq!(redact_unique("token:abc"), "***");
    }

    #[test]
    fn passwords_never_print() {
        assert_eq!(
            redact_url("redis://u:s3cret@h:6379/0"),
            "redis://u:***@h:6379/0"
        );
        assert_eq!(redact_url("redis://:s3cret@h/0"), "redis://:***@h/0");
        assert_eq!(redact_url("redis://h:6379"), "redis://h:6379");
        assert_eq!(redact_url("redis://u@h:6379"), "redis://u@h:6379");
        assert_eq!(
            redact_url("from mysql://r:pw@db/x to redis://:p@h"),
            "from mysql://r:***@db/x to redis://:***@h"
        );
    }

    #[test]
    fn children_never_inherit_ciq_settings() {
        let env = [
            ("PATH", "/bin"),
            ("CIQ_BROKER", "redis://:pw@h"),
            ("CIQ_BROKER_PASSWORD", "pw"),
            ("REDISCLI_AUTH", "pw"),
            ("LC_ALL", "C"),
            ("AWS_SECRET", "s"),
        ]
        .map(|(k, v)| (k.to_string(), v.to_string()));
        let names = |v: Vec<(String, String)>| v.into_iter().map(|(k, _)| k).collect::<Vec<_>>();
        assert_eq!(
            names(child_env(env.clone(), None, &["AWS_*".into()])),
            ["PATH", "LC_ALL"]
        );
        let allow = ["PATH".to_string(), "CIQ_*".to_string()];
        assert_eq!(names(child_env(env, Some(&allow), &[])), ["PATH"]);
    }
}
