//! Every document the docs and the source cite is in the repository.

use crate::harness::*;

/// Text files of the repository a reader follows references in (not third_party/, not
/// the tests, which name the missing documents on purpose).
fn doc_and_source_files() -> Vec<std::path::PathBuf> {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut out = vec![root.join("README.md")];
    for d in [
        "docs",
        "src",
        "contrib",
        "examples",
        "install",
        "man",
        "completions",
    ] {
        files_below(&root.join(d), &mut out);
    }
    out.retain(|p| std::fs::read_to_string(p).is_ok());
    out
}

/// docs/platform.md once cited a "DESIGN §1–§2" that is not in the repository: every
/// document the docs and sources cite (DESIGN…, docs/*.md, docs/*.sh) is there.
#[test]
fn the_docs_cite_only_documents_in_the_repository() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let files = doc_and_source_files();
    assert!(files.len() > 20, "{files:?}");
    let mut bad = vec![];
    for f in &files {
        let text = std::fs::read_to_string(f).unwrap();
        for (n, line) in text.lines().enumerate() {
            let at = format!("{}:{}", f.strip_prefix(root).unwrap().display(), n + 1);
            if line.contains("DESIGN") && !root.join("DESIGN.md").exists() {
                bad.push(format!("{at}: cites DESIGN: {line}"));
            }
            for (i, _) in line.match_indices("docs/") {
                // A path of this repository, not a URL's or another tree's docs/.
                if line[..i].ends_with(|c: char| c.is_ascii_alphanumeric() || "/.-_".contains(c)) {
                    continue;
                }
                let name: String = line[i..]
                    .chars()
                    .take_while(|c| c.is_ascii_alphanumeric() || "/_.-".contains(*c))
                    .collect();
                let name = name.trim_end_matches('.');
                if (name.ends_with(".md") || name.ends_with(".sh")) && !root.join(name).exists() {
                    bad.push(format!("{at}: {name} does not exist"));
                }
            }
        }
    }
    assert!(bad.is_empty(), "{}", bad.join("\n"));
}
