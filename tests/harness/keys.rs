//! Redis key names for tests, built by ciq's own key module (`ciq::broker::keys`) so a
//! test reads and writes exactly the keys ciq does: `keys::q("default").pending`,
//! `keys::beat_leader()`. Only patterns (`ciq:*`) and misspelt names stay literal.

pub use ciq::broker::keys::*;

/// The keys of one queue (`keys::q("default").stats`).
pub fn q(queue: &str) -> QueueKeys {
    QueueKeys::new(queue)
}
