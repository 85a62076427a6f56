//! The Lua scripts, one per atomic transition, each compiled into the binary and
//! hashed once. `redis::Script` sends EVALSHA and reloads the script after NOSCRIPT
//! (e.g. when Redis restarted), so callers never think about loading.

use redis::Script;
use std::sync::LazyLock;

macro_rules! script {
    ($name:ident, $file:literal) => {
        pub static $name: LazyLock<Script> =
            LazyLock::new(|| Script::new(include_str!(concat!("lua/", $file))));
    };
}

script!(ENQUEUE, "enqueue.lua");
script!(CLAIM, "claim.lua");
script!(FINISH, "finish.lua");
script!(RENEW, "renew.lua");
script!(SWEEP, "sweep.lua");
script!(PROMOTE, "promote.lua");
script!(REQUEUE, "requeue.lua");
script!(PURGE, "purge.lua");
script!(BEAT_LEASE, "beat_lease.lua");
script!(BEAT_RELEASE, "beat_release.lua");
script!(BEAT_CLAIM, "beat_claim.lua");
script!(BEAT_SETTLE, "beat_settle.lua");
script!(BEAT_OUTCOME, "beat_outcome.lua");
script!(UPKEEP_RENEW, "upkeep_renew.lua");
script!(UPKEEP_RELEASE, "upkeep_release.lua");
script!(CANCEL, "cancel.lua");
