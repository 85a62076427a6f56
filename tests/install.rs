//! install.sh: idempotent, installs what the README says, and --uninstall leaves nothing,
//! including what `ciq up` created.

use crate::harness::*;
use std::path::Path;
use std::process::Command;
use std::time::Duration;

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

/// Without --bin, install.sh builds with cargo in the open: cargo's own progress lines
/// reach the terminal, the estimate is said first (the same one the README gives) and the
/// build time at the end; CARGO_TARGET_DIR is where it takes the binary from. A stand-in
/// `cargo` on PATH records its arguments and "builds" by copying the test binary.
#[test]
fn install_shows_cargos_progress_and_states_the_build_time() {
    let tmp = tempfile::tempdir().unwrap();
    let (fake, target, prefix) = (
        tmp.path().join("fakebin"),
        tmp.path().join("target"),
        tmp.path().join("prefix"),
    );
    std::fs::create_dir_all(&fake).unwrap();
    let cargo = fake.join("cargo");
    std::fs::write(
        &cargo,
        "#!/bin/sh\necho \"$*\" > \"$CARGO_TARGET_DIR/args\"\n\
         echo '   Compiling ciq v0.0.0 (stand-in cargo)' >&2\n\
         mkdir -p \"$CARGO_TARGET_DIR/release\" && cp \"$CIQ_REAL_BIN\" \"$CARGO_TARGET_DIR/release/ciq\"\n",
    )
    .unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&cargo, std::fs::Permissions::from_mode(0o755)).unwrap();
    std::fs::create_dir_all(&target).unwrap();
    let path = format!(
        "{}:{}",
        fake.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let o = Command::new("./install.sh")
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .arg("--prefix")
        .arg(&prefix)
        .env("PATH", path)
        .env("CARGO_TARGET_DIR", &target)
        .env("CIQ_REAL_BIN", env!("CARGO_BIN_EXE_ciq"))
        .output()
        .expect("install.sh runs");
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(o.status.success(), "{err}");
    assert_eq!(
        std::fs::read_to_string(target.join("args")).unwrap().trim(),
        "build --release --locked",
        "cargo runs without -q"
    );
    assert!(
        err.contains("\n   Compiling ciq v0.0.0 (stand-in cargo)\n"),
        "cargo's progress reaches the terminal:\n{err}"
    );
    let estimate = err
        .split_once("building ciq (release): ")
        .and_then(|(_, r)| r.split_once(" on 2 cores"))
        .map(|(e, _)| e.replace('-', "–"))
        .unwrap_or_else(|| panic!("no estimate before the build:\n{err}"));
    assert!(estimate.starts_with("about ") && estimate.ends_with(" minutes"));
    let readme = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md"))
        .unwrap()
        .replace('\n', " ");
    assert!(
        readme.contains(&format!("({estimate} on a 2-core machine the first time")),
        "the README gives the same estimate as install.sh ({estimate})"
    );
    let built = err
        .lines()
        .find_map(|l| l.strip_prefix("install.sh: built in "))
        .unwrap_or_else(|| panic!("no build time:\n{err}"));
    let w: Vec<&str> = built.split(' ').collect();
    assert!(
        w.len() == 4
            && w[0].parse::<u64>().is_ok()
            && w[1] == "min"
            && w[2].parse::<u64>().is_ok()
            && w[3] == "s",
        "{built}"
    );
    let v = Command::new(prefix.join("bin/ciq"))
        .arg("--version")
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&v.stdout).starts_with("ciq "));
}

/// Bash reads completion files only through the bash-completion package. Where it is
/// missing, install.sh says so and gives a line for ~/.bashrc; that line, in a bash with no
/// startup files, makes `ciq enq<TAB>` complete to `enqueue`.
#[test]
fn bash_completion_works_without_the_bash_completion_package() {
    let prefix = tempfile::tempdir().unwrap();
    let o = install(prefix.path(), &["--bin", env!("CARGO_BIN_EXE_ciq")]);
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(o.status.success(), "{err}");
    let file = prefix
        .path()
        .canonicalize()
        .unwrap()
        .join("share/bash-completion/completions/ciq");
    let line = format!("source {}", file.display());
    let loader = [
        "/usr/share/bash-completion/bash_completion",
        "/etc/bash_completion",
    ]
    .iter()
    .any(|f| Path::new(f).exists());
    if loader {
        assert!(!err.contains("bash-completion package"), "{err}");
    } else {
        assert!(
            err.contains("bash completion needs the bash-completion package (apt-get install bash-completion)")
                && err.contains(&format!("add to ~/.bashrc: {line}")),
            "{err}"
        );
    }
    let script = format!(
        "{line}\ncomplete -p ciq\nCOMP_WORDS=(ciq enq); COMP_CWORD=1; COMP_LINE='ciq enq'; COMP_POINT=7\n\
         _ciq ciq enq ciq\nprintf 'reply: %s\\n' \"${{COMPREPLY[@]}}\"\n"
    );
    let b = Command::new("bash")
        .args(["--norc", "--noprofile", "-c", &script])
        .env_remove("BASH_ENV")
        .output()
        .unwrap();
    let out = String::from_utf8_lossy(&b.stdout);
    assert!(b.status.success(), "{}", String::from_utf8_lossy(&b.stderr));
    assert!(out.contains("-F _ciq ciq"), "{out}");
    assert_eq!(
        out.lines()
            .filter(|l| l.starts_with("reply: "))
            .collect::<Vec<_>>(),
        vec!["reply: enqueue"],
        "{out}"
    );
}

/// Every file path the installed sample config names (values, and argv arrays) exists
/// after install; a relative sqlite:// database is the one `ciq up` creates, and the
/// sample says so. The sample once named examples/delete-test-vm.sh, which was not installed.
#[test]
fn every_path_the_installed_sample_config_names_exists() {
    let prefix = tempfile::tempdir().unwrap();
    let o = install(prefix.path(), &["--bin", env!("CARGO_BIN_EXE_ciq")]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let share = prefix.path().join("share/ciq");
    let text = std::fs::read_to_string(share.join("ciq.toml.sample")).unwrap();
    let doc: toml::Value = toml::from_str(&text).expect("the sample parses");
    let mut strings = vec![];
    fn walk(key: &str, v: &toml::Value, out: &mut Vec<(String, String)>) {
        match v {
            toml::Value::String(s) => out.push((key.to_string(), s.clone())),
            toml::Value::Array(a) => a.iter().for_each(|x| walk(key, x, out)),
            toml::Value::Table(t) => t
                .iter()
                .for_each(|(k, x)| walk(&format!("{key}.{k}"), x, out)),
            _ => {}
        }
    }
    walk("", &doc, &mut strings);
    let mut made_by_up = 0;
    for (key, s) in &strings {
        if let Some((scheme, rest)) = s.split_once("://") {
            if scheme == "sqlite" && !rest.starts_with('/') {
                assert!(
                    text.contains(&format!("creates {rest}")),
                    "{key}: the sample says ciq up creates {rest}"
                );
                made_by_up += 1;
            } else if scheme == "sqlite" {
                assert!(Path::new(rest).exists(), "{key} = {s}: no such file");
            }
            continue;
        }
        let pathish = s.contains('/')
            || [".sh", ".py", ".db", ".toml", ".log", ".pem", ".key"]
                .iter()
                .any(|e| s.ends_with(e));
        if pathish {
            let p = Path::new(s);
            assert!(
                p.exists() || share.join(p).exists(),
                "{key} = {s:?} names a file that is neither installed nor on the machine"
            );
        }
    }
    assert_eq!(made_by_up, 1, "the sample's database: {strings:?}");
}

/// `ciq up` with the sample config (--broker on a free port, so it starts its Redis there) creates
/// started-tests.log at once, so the README's `tail -f started-tests.log` works before
/// the first start; and `install.sh --uninstall` names every file `up` created.
#[test]
fn what_ciq_up_creates_is_named_by_uninstall() {
    let url = format!("redis://127.0.0.1:{}/0", free_port());
    let ciq = Ciq {
        home: tempfile::tempdir().expect("tempdir"),
        broker: url.clone(),
    };
    let sample =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/examples/ciq.toml")).unwrap();
    // The harness's CIQ_BROKER (a free local port) tells `up` which Redis to start.
    ciq.config(&sample);
    let logs = tempfile::tempdir().unwrap();
    let log = logs.path().join("up.log");
    let mut up = Proc(
        ciq.cmd(&["up"])
            .stdout(std::process::Stdio::null())
            .stderr(std::fs::File::create(&log).unwrap())
            .spawn()
            .expect("spawn ciq up"),
    );
    let read = || std::fs::read_to_string(&log).unwrap_or_default();
    let ok = wait_until(Duration::from_secs(20), || {
        read().contains("ciq up: using Redis")
    });
    let started = ciq.dir().join("started-tests.log");
    let exists = started.exists();
    let st = up
        .stop(Duration::from_secs(20))
        .expect("up stops on SIGTERM");
    assert!(ok && st.success(), "{st}\n{}", read());
    assert!(exists, "started-tests.log exists once up runs:\n{}", read());
    let tail = std::process::Command::new("tail")
        .arg("-n1")
        .arg(&started)
        .output()
        .unwrap();
    assert!(tail.status.success() && tail.stdout.is_empty());

    let mut made = vec![];
    files_below(ciq.dir(), &mut made);
    made.retain(|p| p != &ciq.config_path());
    let names = |f: &str| made.iter().any(|p| p.ends_with(f));
    assert!(
        names("ciq-platform.db") && names("redis/redis.log"),
        "{made:?}"
    );

    let prefix = tempfile::tempdir().unwrap();
    let install = |extra: &[&str]| {
        std::process::Command::new("./install.sh")
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .env_clear()
            .env("HOME", ciq.dir())
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .arg("--prefix")
            .arg(prefix.path())
            .args(extra)
            .output()
            .unwrap()
    };
    assert!(install(&["--bin", env!("CARGO_BIN_EXE_ciq")])
        .status
        .success());
    let o = install(&["--uninstall"]);
    let msg = String::from_utf8_lossy(&o.stderr).to_string();
    assert!(o.status.success(), "{msg}");
    let named: Vec<&str> = msg
        .split_whitespace()
        .filter(|w| w.starts_with('/'))
        .map(|w| w.trim_end_matches([':', ',', ';']))
        .collect();
    assert!(
        !named.iter().any(|n| ciq.dir().starts_with(n)),
        "names no directory as broad as the one up ran in: {named:?}"
    );
    for f in &made {
        let in_named_dir = named.iter().any(|n| f.starts_with(n));
        let in_cwd_by_name = f.parent() == Some(ciq.dir())
            && msg.contains(&*f.file_name().unwrap().to_string_lossy());
        assert!(
            in_named_dir || in_cwd_by_name,
            "uninstall does not name {}:\n{msg}",
            f.display()
        );
    }
}
