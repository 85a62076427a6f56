//! The stage table lives in one place in the code (`rollout::state::expected`, rendered by
//! `rollout::stage_table`); every table of stages in the README, docs/*.md and the
//! rollout module's doc, and the migrate-from-cron man page, must agree with it: the
//! stage's name, whether the services run, the flag, and the cron line (stage 1 once read
//! `*/10` without the guard in one place and `*/30` for stage 2 in another).

use std::path::Path;

struct Row {
    name: String,
    services: bool,
    flag: bool,
    cron: String,
}

fn cells(line: &str) -> Vec<String> {
    line.trim()
        .trim_matches('|')
        .split('|')
        .map(|c| c.trim().to_string())
        .collect()
}

/// The code's table.
fn code() -> Vec<Row> {
    ciq::rollout::stage_table()
        .iter()
        .map(|l| {
            let c = cells(l);
            Row {
                name: c[0].clone(),
                services: c[1] == "running",
                flag: c[2] == "True",
                cron: c[3].clone(),
            }
        })
        .collect()
}

/// Rows `| N name | … |` of a stage table in `text` (a leading `//! ` is dropped).
fn doc_rows(text: &str) -> Vec<Vec<String>> {
    text.lines()
        .map(|l| l.trim_start_matches("//! ").trim_start_matches("//!"))
        .filter(|l| l.starts_with("| "))
        .map(cells)
        .filter(|c| {
            let mut w = c[0].split_whitespace();
            w.next()
                .is_some_and(|n| n.len() == 1 && n.as_bytes()[0].is_ascii_digit())
                && w.next().is_some()
        })
        .collect()
}

#[test]
fn every_stage_table_in_the_docs_matches_the_code() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let want = code();
    assert_eq!(want.len(), 4);
    assert!(
        want[1].cron.contains("cron-guard"),
        "stage 1 runs the cron through the guard"
    );
    for file in [
        "README.md",
        "docs/rollout.md",
        "docs/platform.md",
        "src/rollout/mod.rs",
    ] {
        let text = std::fs::read_to_string(root.join(file)).unwrap();
        let rows = doc_rows(&text);
        assert_eq!(
            rows.len(),
            want.len(),
            "{file}: one row per stage: {rows:?}"
        );
        for (row, w) in rows.iter().zip(&want) {
            let at = format!("{file}: row {row:?}");
            assert!(row[0].starts_with(&w.name), "{at}: stage name {:?}", w.name);
            let services = row.iter().any(|c| c.starts_with("running"));
            assert_eq!(services, w.services, "{at}: services");
            let flag = if w.flag { "True" } else { "False" };
            assert!(row.iter().any(|c| c.starts_with(flag)), "{at}: flag {flag}");
            let cron = row
                .iter()
                .find(|c| c.contains("*/") || c.contains("commented out"))
                .unwrap_or_else(|| panic!("{at}: no cron cell"));
            assert!(
                !cron.contains("*/30"),
                "{at}: no stage runs the cron every 30 minutes"
            );
            assert_eq!(
                cron.contains("cron-guard"),
                w.cron.contains("cron-guard"),
                "{at}: cron {:?}",
                w.cron
            );
            assert_eq!(
                cron.contains("commented out"),
                w.cron.contains("commented out"),
                "{at}: cron {:?}",
                w.cron
            );
        }
    }
    let man = std::fs::read_to_string(root.join("man/ciq-migrate-from-cron.1"))
        .unwrap()
        .replace("\\-", "-");
    assert!(!man.contains("*/30"), "man page: no */30 stage");
    for (s, w) in want.iter().enumerate() {
        let name = w
            .name
            .trim_start_matches(|c: char| c.is_ascii_digit())
            .trim();
        assert!(
            man.contains(&format!("{s} {name}")),
            "man page names stage {s} {name}"
        );
    }
    assert!(
        man.contains("cron */10 through ciq cron-guard"),
        "man page: the guard"
    );
}
