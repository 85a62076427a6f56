//! Completions, man pages and `--help` snapshots are generated from the clap definitions
//! and checked in. These tests fail when any of them is stale; regenerate with
//! `CIQ_BLESS=1 cargo test --test tests generated`.

use std::path::{Path, PathBuf};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn command() -> clap::Command {
    ciq::cli::command().term_width(100)
}

/// Compares `content` with the checked-in file, or writes it when blessing.
/// Returns a description of the mismatch, if any.
fn check(path: &Path, content: &[u8]) -> Option<String> {
    if std::env::var_os("CIQ_BLESS").is_some() {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, content).unwrap();
        return None;
    }
    match std::fs::read(path) {
        Ok(old) if old == content => None,
        Ok(_) => Some(format!("{} is stale", path.display())),
        Err(_) => Some(format!("{} is missing", path.display())),
    }
}

fn assert_all(problems: Vec<String>) {
    assert!(
        problems.is_empty(),
        "{}\nregenerate with: CIQ_BLESS=1 cargo test --test tests generated",
        problems.join("\n")
    );
}

/// Every subcommand with its full name path, e.g. ["inspect", "active"].
fn subcommands(
    cmd: &clap::Command,
    path: Vec<String>,
    out: &mut Vec<(Vec<String>, clap::Command)>,
) {
    for sub in cmd.get_subcommands() {
        if sub.get_name() == "help" {
            continue;
        }
        let mut p = path.clone();
        p.push(sub.get_name().to_string());
        out.push((p.clone(), sub.clone()));
        subcommands(sub, p, out);
    }
}

fn all_commands() -> Vec<(Vec<String>, clap::Command)> {
    let mut cmd = command();
    cmd.build();
    let mut out = vec![(vec![], cmd.clone())];
    subcommands(&cmd, vec![], &mut out);
    out
}

#[test]
fn completions_are_current() {
    use clap_complete::{generate, Shell};
    let mut problems = vec![];
    for (shell, file) in [
        (Shell::Bash, "ciq.bash"),
        (Shell::Zsh, "_ciq"),
        (Shell::Fish, "ciq.fish"),
    ] {
        let mut buf = Vec::new();
        generate(shell, &mut command(), "ciq", &mut buf);
        problems.extend(check(&root().join("completions").join(file), &buf));
    }
    assert_all(problems);
}

#[test]
fn man_pages_are_current() {
    let mut problems = vec![];
    for (path, cmd) in all_commands() {
        let name = std::iter::once("ciq".to_string())
            .chain(path.iter().cloned())
            .collect::<Vec<_>>()
            .join("-");
        let cmd = cmd.name(name.clone()).display_name(name.clone());
        let mut buf = Vec::new();
        clap_mangen::Man::new(cmd).render(&mut buf).unwrap();
        problems.extend(check(&root().join("man").join(format!("{name}.1")), &buf));
    }
    assert_all(problems);
}

#[test]
fn help_snapshots_are_current() {
    let mut problems = vec![];
    for (path, mut cmd) in all_commands() {
        let name = if path.is_empty() {
            "ciq".to_string()
        } else {
            format!("ciq-{}", path.join("-"))
        };
        let help = cmd.render_long_help().to_string();
        problems.extend(check(
            &root()
                .join("tests/snapshots/help")
                .join(format!("{name}.txt")),
            help.as_bytes(),
        ));
    }
    assert_all(problems);
}
