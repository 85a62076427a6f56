//! Broker errors: the CLI maps `Unreachable` to its own exit code.

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("cannot reach Redis at {addr}: {msg}")]
    Unreachable { addr: String, msg: String },
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

impl Error {
    pub fn from_redis(addr: &str, e: redis::RedisError) -> Self {
        // A demoted or not-yet-ready master is as unusable for writes as a dead one.
        if super::sentinel::needs_failover(&e) {
            Error::Unreachable {
                addr: addr.to_string(),
                msg: e.to_string(),
            }
        } else {
            Error::Redis(e.to_string())
        }
    }

    pub fn is_unreachable(&self) -> bool {
        matches!(self, Error::Unreachable { .. })
    }
}

pub type Result<T> = std::result::Result<T, Error>;
