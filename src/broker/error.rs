//! Broker errors: the CLI maps `Unreachable` to its own exit code.

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("cannot reach Redis at {addr}: {msg}")]
    Unreachable { addr: String, msg: String },
    #[error("Redis error: {0}")]
    Redis(String),
    #[error("{0}")]
    Invalid(String),
}

impl Error {
    pub fn from_redis(addr: &str, e: redis::RedisError) -> Self {
        if e.is_io_error()
            || e.is_connection_dropped()
            || e.is_connection_refusal()
            || e.is_timeout()
        {
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
