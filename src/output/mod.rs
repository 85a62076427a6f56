//! One output layer: commands build `Serialize` values; this renders JSON or a table
//! on stdout. Diagnostics go to stderr. A closed pipe (`ciq depth | head`) is not an error.

use comfy_table::{presets::UTF8_FULL_CONDENSED, ContentArrangement, Table};
use serde::Serialize;
use std::io::{IsTerminal, Write};

/// Prints `value` as one JSON document on stdout.
pub fn json<T: Serialize + ?Sized>(value: &T) {
    let s = serde_json::to_string_pretty(value).expect("output serializes");
    print_line(&s);
}

/// Prints a line on stdout, exiting quietly if the reader went away.
pub fn print_line(s: &str) {
    let mut out = std::io::stdout().lock();
    if writeln!(out, "{s}").is_err() {
        std::process::exit(0);
    }
}

/// A table with a header row; plain ASCII-free borders that survive copy/paste.
pub fn table(header: &[&str], rows: Vec<Vec<String>>) {
    let mut t = Table::new();
    t.load_preset(UTF8_FULL_CONDENSED)
        .set_content_arrangement(ContentArrangement::Dynamic)
        .set_header(header.to_vec());
    for r in rows {
        t.add_row(r);
    }
    print_line(&t.to_string());
}

/// A list as a read command prints it: one JSON array with `--json`; else, when the list
/// is empty and the command has a word for that (`none`), that word on stderr; else a
/// table with `header` and one row of `cells` per item.
pub fn list<T: Serialize>(
    json: bool,
    items: &[T],
    none: Option<&str>,
    header: &[&str],
    cells: impl Fn(&T) -> Vec<String>,
) {
    match none {
        _ if json => self::json(items),
        Some(none) if items.is_empty() => eprintln!("{none}"),
        _ => table(header, items.iter().map(cells).collect()),
    }
}

pub fn stdout_is_tty() -> bool {
    std::io::stdout().is_terminal()
}

pub fn stderr_is_tty() -> bool {
    std::io::stderr().is_terminal()
}

pub fn stdin_is_tty() -> bool {
    std::io::stdin().is_terminal()
}

/// "3s", "2m 5s", "1h 2m": a human age for tables.
pub fn age(secs: f64) -> String {
    let s = secs.max(0.0).round() as u64;
    match s {
        0..=59 => format!("{s}s"),
        60..=3599 => format!("{}m {}s", s / 60, s % 60),
        _ => format!("{}h {}m", s / 3600, (s % 3600) / 60),
    }
}

/// RFC 3339 UTC timestamp from epoch ms.
pub fn ts(ms: u64) -> String {
    let t = std::time::UNIX_EPOCH + std::time::Duration::from_millis(ms);
    humantime::format_rfc3339_millis(t).to_string()
}

/// A spinner on stderr when it is a terminal; hidden otherwise.
pub fn spinner(msg: &str) -> indicatif::ProgressBar {
    if !stderr_is_tty() {
        return indicatif::ProgressBar::hidden();
    }
    let pb = indicatif::ProgressBar::new_spinner();
    pb.set_message(msg.to_string());
    pb.enable_steady_tick(std::time::Duration::from_millis(100));
    pb
}

/// A counting progress bar on stderr when it is a terminal; hidden otherwise.
pub fn progress(total: u64, msg: &str) -> indicatif::ProgressBar {
    if !stderr_is_tty() {
        return indicatif::ProgressBar::hidden();
    }
    let pb = indicatif::ProgressBar::new(total);
    pb.set_message(msg.to_string());
    pb
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ages_read_well() {
        assert_eq!(age(5.2), "5s");
        assert_eq!(age(125.0), "2m 5s");
        assert_eq!(age(3720.0), "1h 2m");
    }
}
