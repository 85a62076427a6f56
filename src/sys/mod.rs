//! Small helpers over the operating system, at the ground: any layer may use them.
//! - `files`: reading a file that may be missing, timestamped backups, atomic writes.
//! - `lines`: lines with their own terminators (an edit keeps CRLF and the rest byte-exact).
//! - `lock`: file locks (std's flock), shared or exclusive, with a deadline.
//! - `process_group`: signals to a program and whatever it started.
//! - `program`: a program run with a time limit, its output captured.

pub mod files;
pub mod lines;
pub mod lock;
pub mod process_group;
pub mod program;
