//! `broker` in `ciq.toml`: a URL string, or a `[broker]` table with the URL and the
//! options of replicated topologies (Sentinel credentials, acknowledged writes).
//!
//! ```toml
//! [broker]
//! url = "redis+sentinel://10.0.0.1:26379,10.0.0.2:26379/mymaster/0"
//! min_replicas = 1               # = the replica count: WAIT on enqueue, claim, renewal, outcome
//! min_replicas_timeout = "500ms"
//! sentinel_username = "ciq"      # ACL user on the sentinels, if any
//! sentinel_password_file = "/etc/ciq/sentinel-password"
//! ```
//!
//! Resolved here too: the options (each overridable by its `CIQ_BROKER_*` variable) and
//! the password put into the URL.

use super::duration::Dur;
use serde::de::{self, Deserializer, MapAccess, Visitor};
use serde::Deserialize;

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BrokerTable {
    pub url: Option<String>,
    pub min_replicas: Option<u32>,
    pub min_replicas_timeout: Option<Dur>,
    pub sentinel_username: Option<String>,
    /// File holding the sentinels' password (first line).
    pub sentinel_password_file: Option<String>,
}

/// Deserializes `broker = "url"` and `[broker] url = …` alike.
pub fn url_or_table<'de, D: Deserializer<'de>>(d: D) -> Result<Option<BrokerTable>, D::Error> {
    struct V;
    impl<'de> Visitor<'de> for V {
        type Value = BrokerTable;
        fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
            f.write_str("a broker URL string or a [broker] table")
        }
        fn visit_str<E: de::Error>(self, s: &str) -> Result<BrokerTable, E> {
            Ok(BrokerTable {
                url: Some(s.to_string()),
                ..Default::default()
            })
        }
        fn visit_map<M: MapAccess<'de>>(self, m: M) -> Result<BrokerTable, M::Error> {
            BrokerTable::deserialize(de::value::MapAccessDeserializer::new(m))
        }
    }
    d.deserialize_any(V).map(Some)
}

/// `[broker]` options, each overridable by its `CIQ_BROKER_*` variable.
pub fn options(t: &BrokerTable) -> Result<crate::broker::BrokerOptions, (String, String)> {
    let env = |k: &str| std::env::var(k).ok().filter(|v| !v.is_empty());
    let mut o = crate::broker::BrokerOptions::default();
    if let Some(n) = env("CIQ_BROKER_MIN_REPLICAS") {
        o.min_replicas = n.parse().map_err(|_| {
            (
                "broker.min_replicas".to_string(),
                format!("CIQ_BROKER_MIN_REPLICAS={n:?} is not a number"),
            )
        })?;
    } else if let Some(n) = t.min_replicas {
        o.min_replicas = n;
    }
    if let Some(d) = env("CIQ_BROKER_MIN_REPLICAS_TIMEOUT") {
        o.min_replicas_timeout = humantime::parse_duration(&d).map_err(|e| {
            (
                "broker.min_replicas_timeout".to_string(),
                format!("CIQ_BROKER_MIN_REPLICAS_TIMEOUT={d:?}: {e}"),
            )
        })?;
    } else if let Some(d) = &t.min_replicas_timeout {
        o.min_replicas_timeout = d.0;
    }
    o.sentinel.username = env("CIQ_BROKER_SENTINEL_USER").or(t.sentinel_username.clone());
    o.sentinel.password = match env("CIQ_BROKER_SENTINEL_PASSWORD") {
        Some(p) => Some(p),
        None => match env("CIQ_BROKER_SENTINEL_PASSWORD_FILE").or(t.sentinel_password_file.clone())
        {
            Some(f) => Some(
                read_secret(&f).map_err(|m| ("broker.sentinel_password_file".to_string(), m))?,
            ),
            None => None,
        },
    };
    Ok(o)
}

/// First line of a secret file (trailing newline removed).
pub fn read_secret(path: &str) -> Result<String, String> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| format!("cannot read password file {path}: {e}"))?;
    Ok(text.lines().next().unwrap_or("").to_string())
}

/// Puts `user:password@` into a redis:// or rediss:// URL (percent-encoded).
pub fn with_credentials(url: &str, user: Option<&str>, password: &str) -> Result<String, String> {
    let enc = |s: &str| {
        s.bytes()
            .map(|b| match b {
                b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                    (b as char).to_string()
                }
                _ => format!("%{b:02X}"),
            })
            .collect::<String>()
    };
    let (scheme, rest) = url.split_once("://").ok_or_else(|| {
        "broker URL must start with redis://, rediss://, redis+sentinel://, redis+cluster:// or rediss+cluster://"
            .to_string()
    })?;
    let host = rest.rsplit_once('@').map(|(_, h)| h).unwrap_or(rest);
    Ok(format!(
        "{scheme}://{}:{}@{host}",
        enc(user.unwrap_or("")),
        enc(password)
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credentials_are_injected_encoded() {
        assert_eq!(
            with_credentials("redis://h:6379/0", Some("ciq"), "p@ss:w").unwrap(),
            "redis://ciq:p%40ss%3Aw@h:6379/0"
        );
        assert_eq!(
            with_credentials("rediss://old:x@h/1", None, "n").unwrap(),
            "rediss://:n@h/1"
        );
    }
}
