//! Broker errors: the CLI maps `Unreachable`, `Auth` and `Permission` to the broker exit
//! code, each with one line that says what to fix.

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("cannot reach Redis at {addr}: {msg}")]
    Unreachable { addr: String, msg: String },
    /// NOAUTH / WRONGPASS: no password, or the wrong user or password.
    #[error("Redis at {addr} refused the login: {msg}")]
    Auth { addr: String, msg: String },
    /// NOPERM: the ACL user lacks a command, a command category or a key pattern.
    #[error("ACL user '{user}' may not {what}")]
    Permission { user: String, what: String },
    /// OOM: `maxmemory` reached under `noeviction`; nothing was written.
    #[error("Redis is out of memory (maxmemory reached): the write was refused")]
    OutOfMemory,
    /// SELECT refused: the URL's `/N` is not below the server's `databases` setting.
    #[error("Redis at {addr} has no such database: DB index is out of range")]
    NoDatabase { addr: String },
    #[error("Redis error: {0}")]
    Redis(String),
    #[error("{0}")]
    Invalid(String),
    /// The write reached the master but fewer than `wanted` replicas confirmed it in time.
    #[error("not acknowledged: {got} of {wanted} replica(s) confirmed the write within {timeout:?}; it may not survive a failover")]
    NotReplicated {
        wanted: u32,
        got: u32,
        timeout: std::time::Duration,
    },
}

/// The ACL user in a (redacted) URL: `redis://ciq:***@h` -> `ciq`, none -> `default`.
fn url_user(addr: &str) -> String {
    addr.split_once("://")
        .and_then(|(_, rest)| rest.rsplit_once('@'))
        .map(|(creds, _)| creds.split(':').next().unwrap_or(""))
        .filter(|u| !u.is_empty())
        .unwrap_or("default")
        .to_string()
}

/// What a NOPERM message says is missing, as the grant that fixes it.
fn missing_grant(detail: &str) -> String {
    if let Some(cmd) = detail
        .split('\'')
        .nth(1)
        .filter(|_| detail.contains("command"))
    {
        let shown = cmd.replace('|', " ").to_ascii_uppercase();
        let base = cmd.split('|').next().unwrap_or(cmd).to_ascii_lowercase();
        let grant = match base.as_str() {
            "eval" | "evalsha" | "eval_ro" | "evalsha_ro" | "script" | "fcall" => {
                "+@scripting".to_string()
            }
            _ => format!("+{base}"),
        };
        return format!("run {shown}: grant {grant}");
    }
    if detail.contains("key") {
        return format!(
            "access ciq's keys: grant ~{}:* (and %RW~{}:*)",
            super::keys::PREFIX,
            super::keys::PREFIX
        );
    }
    format!("do this ({}): check its ACL rules", detail.trim())
}

impl Error {
    pub fn from_redis(addr: &str, e: redis::RedisError) -> Self {
        // A demoted or not-yet-ready master is as unusable for writes as a dead one.
        if super::sentinel::needs_failover(&e) {
            return Error::Unreachable {
                addr: addr.to_string(),
                msg: e.to_string(),
            };
        }
        let detail = e.detail().unwrap_or("").to_string();
        match e.code() {
            Some("NOPERM") => Error::Permission {
                user: url_user(addr),
                what: missing_grant(&detail),
            },
            Some("NOAUTH") | Some("WRONGPASS") => Error::Auth {
                addr: addr.to_string(),
                msg: e.to_string(),
            },
            Some("OOM") => Error::OutOfMemory,
            _ if e.to_string().contains("DB index is out of range") => Error::NoDatabase {
                addr: addr.to_string(),
            },
            _ if e.kind() == redis::ErrorKind::AuthenticationFailed => Error::Auth {
                addr: addr.to_string(),
                msg: e.to_string(),
            },
            // An unauthenticated client sending a long command is cut off by Redis.
            _ if e.to_string().contains("unauthenticated") => Error::Auth {
                addr: addr.to_string(),
                msg: "NOAUTH: Redis requires a password and none was given".into(),
            },
            // A write refused inside a script arrives as a script error quoting OOM.
            _ if e.to_string().contains("OOM command not allowed") => Error::OutOfMemory,
            _ if e.to_string().contains("NOPERM") => Error::Permission {
                user: url_user(addr),
                what: missing_grant(&e.to_string()),
            },
            _ => Error::Redis(e.to_string()),
        }
    }

    pub fn is_unreachable(&self) -> bool {
        matches!(self, Error::Unreachable { .. })
    }

    /// Retrying will not help until an operator changes the ACL or the password.
    pub fn is_access(&self) -> bool {
        matches!(self, Error::Auth { .. } | Error::Permission { .. })
    }
}

pub type Result<T> = std::result::Result<T, Error>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn noperm_names_the_user_and_the_grant() {
        let e = Error::Permission {
            user: url_user("redis://ciq:***@h:1/0"),
            what: missing_grant("this user has no permissions to run the 'evalsha' command"),
        };
        assert_eq!(
            e.to_string(),
            "ACL user 'ciq' may not run EVALSHA: grant +@scripting"
        );
        assert_eq!(url_user("redis://h:1/0"), "default");
        assert!(missing_grant("no permissions to access one of the keys").contains("~ciq:*"));
    }
}
