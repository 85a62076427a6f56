//! The three platform tasks: `process_pending_tests` (discovery, ciq's own query),
//! `start_test` and `maintain` (the platform's own code, through the bridge).

pub mod discover;
pub mod maintain;
pub mod start;
