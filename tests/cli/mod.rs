//! The command line itself: what it checks and refuses (one line and its exit code), the
//! messages a new user meets first, and the generated completions, man pages and `--help`.

mod checks;
mod generated;
mod messages;
