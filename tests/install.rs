//! install.sh: idempotent, installs what the README says, and --uninstall leaves nothing.

use std::path::Path;
use std::process::Command;

fn files_under(dir: &Path) -> Vec<String> {
    let mut out = vec![];
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            out.push(p.strip_prefix(dir).unwrap().display().to_string());
            if p.is_dir() {
                stack.push(p);
            }
        }
    }
    out.sort();
    out
}

fn install(prefix: &Path, extra: &[&str]) -> std::process::Output {
    Command::new("./install.sh")
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .arg("--prefix")
        .arg(prefix)
        .args(extra)
        .output()
        .expect("install.sh runs")
}

#[test]
fn install_is_idempotent_and_uninstall_leaves_nothing() {
    let prefix = tempfile::tempdir().unwrap();
    let bin = env!("CARGO_BIN_EXE_ciq");
    for _ in 0..2 {
        let o = install(prefix.path(), &["--bin", bin]);
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    }
    let files = files_under(prefix.path());
    for want in [
        "bin/ciq",
        "share/bash-completion/completions/ciq",
        "share/zsh/site-functions/_ciq",
        "share/fish/vendor_completions.d/ciq.fish",
        "share/man/man1/ciq.1",
        "share/man/man1/ciq-enqueue.1",
        "share/ciq/ciq.toml.sample",
        "share/ciq/systemd/ciq-worker.service",
        "share/ciq/systemd/ciq-beat.service",
        "share/ciq/contrib/sample-platform/ciq_bridge.py",
        "share/ciq/contrib/sample-platform/standin_bridge.py",
        "share/ciq/contrib/sample-platform/ciq_trigger.py",
        "share/ciq/contrib/sample-platform/webhook.patch",
        "share/ciq/contrib/sample-platform/README.md",
    ] {
        assert!(
            files.contains(&want.to_string()),
            "{want} missing from {files:?}"
        );
    }
    let v = Command::new(prefix.path().join("bin/ciq"))
        .arg("--version")
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&v.stdout).starts_with("ciq "));
    let o = install(prefix.path(), &["--uninstall"]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert_eq!(
        files_under(prefix.path()),
        Vec::<String>::new(),
        "uninstall leaves nothing"
    );
}
