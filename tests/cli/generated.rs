//! Completions, man pages and `--help` snapshots are generated from the clap definitions
//! and checked in. These tests fail when any of them is stale; regenerate with
//! `CIQ_BLESS=1 cargo test --test tests generated`. Blessing is refused when `CI` is set,
//! so CI can never rewrite the files it is meant to check.

use std::path::{Path, PathBuf};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn command() -> clap::Command {
    ciq::cli::command().term_width(100)
}

/// Whether to write the files instead of checking them: `CIQ_BLESS` set, and never under
/// CI (`CI` set), where blessing would make every check pass.
fn blessing(bless: Option<&str>, ci: Option<&str>) -> Result<bool, String> {
    match (bless, ci) {
        (Some(_), Some(_)) => Err("CIQ_BLESS is refused when CI is set: CI must check the generated files, not rewrite them".into()),
        (b, _) => Ok(b.is_some()),
    }
}

fn bless() -> bool {
    let var = |k| std::env::var(k).ok();
    blessing(var("CIQ_BLESS").as_deref(), var("CI").as_deref()).unwrap_or_else(|e| panic!("{e}"))
}

/// Compares `content` with the checked-in file, or writes it when blessing.
/// Returns a description of the mismatch, if any.
fn check(path: &Path, content: &[u8]) -> Option<String> {
    if bless() {
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

#[test]
fn bless_is_refused_under_ci() {
    assert_eq!(blessing(None, None), Ok(false));
    assert_eq!(blessing(None, Some("true")), Ok(false));
    assert_eq!(blessing(Some("1"), None), Ok(true));
    assert!(blessing(Some("1"), Some("true")).is_err());
    assert!(blessing(Some(""), Some("")).is_err(), "set at all counts");
}
