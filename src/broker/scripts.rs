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

/// A script made of function files (each defines one `local function`) and the line
/// that calls them: one source for a transition used alone and combined.
macro_rules! composed {
    ($name:ident, [$($file:literal),+], $call:literal) => {
        pub static $name: LazyLock<Script> = LazyLock::new(|| {
            Script::new(concat!($(include_str!(concat!("lua/", $file)), "\n",)+ $call))
        });
    };
}

script!(ENQUEUE, "enqueue.lua");
composed!(
    CLAIM,
    ["clock.lua", "claim.lua"],
    "return claim(KEYS, ARGV, redis_now)\n"
);
composed!(
    FINISH,
    ["clock.lua", "history_trim.lua", "finish.lua"],
    "return finish(KEYS, ARGV, redis_now())\n"
);
composed!(
    FINISH_CLAIM,
    [
        "clock.lua",
        "history_trim.lua",
        "finish.lua",
        "claim.lua",
        "finish_claim.lua"
    ],
    ""
);
script!(RENEW, "renew.lua");
script!(SWEEP, "sweep.lua");
script!(HISTORY_MOVE, "history_move.lua");
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
