//! Small messages a new user meets in the first hour (issue 12): a bad broker URL says
//! what is expected, an SQLite database that cannot be opened is not called a "database
//! server", and `noop fail=true` fails saying why instead of passing silently.

use crate::harness::*;
use std::time::Duration;

#[test]
fn a_bad_broker_url_says_what_a_good_one_looks_like() {
    let redis = Redis::start();
    let ciq = Ciq::new(&redis);
    for url in ["foo", "redis://h:notaport/0"] {
        let o = ciq.run(&["--broker", url, "depth"]);
        assert_eq!(o.status.code(), Some(2), "{url}");
        let err = String::from_utf8_lossy(&o.stderr);
        assert!(
            err.contains(&format!(
                "bad broker URL {url}: expected redis://[user:password@]host[:port][/db]"
            )),
            "{err}"
        );
        assert!(!err.contains("InvalidClientConfig"), "{err}");
    }
}

#[test]
fn an_unopenable_sqlite_file_gets_a_file_hint() {
    let redis = Redis::start();
    let ciq = Ciq::new(&redis);
    let o = ciq.run(&[
        "--database",
        "sqlite:///nonexistent-dir-ciq/x.db",
        "platform",
        "check",
    ]);
    assert_eq!(o.status.code(), Some(4));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("hint: can ciq read and write that file"),
        "{err}"
    );
    assert!(!err.contains("database server"), "{err}");
}

#[test]
fn noop_refuses_an_unknown_fail_value() {
    let redis = Redis::start();
    let ciq = Ciq::new(&redis);
    let id = ciq
        .ok(&["enqueue", "noop", "--arg", "fail=true"])
        .trim()
        .to_string();
    let _w = ciq.spawn_worker("w", &["--queues", "default"]);
    let mut out = String::new();
    assert!(
        wait_until(Duration::from_secs(15), || {
            out = ciq.ok(&["--json", "inspect", "task", &id]);
            out.contains("\"state\": \"failed\"")
        }),
        "{out}"
    );
    assert!(
        out.contains("noop: fail must be \\\"retry\\\" or \\\"fail\\\" (got true)"),
        "{out}"
    );
}

/// With CIQ_BROKER set (as the harness always does), a usage error does not present
/// --broker as a required option.
#[test]
fn usage_does_not_list_broker_when_it_comes_from_the_environment() {
    let redis = Redis::start();
    let ciq = Ciq::new(&redis);
    for (args, usage) in [
        (&["pause"][..], "Usage: ciq pause <QUEUES>..."),
        (&["inspect", "task"][..], "Usage: ciq inspect task <ID>"),
    ] {
        let o = ciq.run(args);
        assert_eq!(o.status.code(), Some(2), "{args:?}");
        let err = String::from_utf8_lossy(&o.stderr);
        assert!(err.contains(usage), "{args:?}: {err}");
        assert!(!err.contains("--broker"), "{args:?}: {err}");
    }
    // A bad value in a CIQ_* variable is still reported as such.
    let o = ciq
        .cmd(&["work"])
        .env("CIQ_CONCURRENCY", "many")
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("many"), "{err}");
}

/// Every file under `dir`, recursively.
fn files(dir: &std::path::Path, out: &mut Vec<std::path::PathBuf>) {
    for e in std::fs::read_dir(dir).unwrap().flatten() {
        let p = e.path();
        if p.is_dir() {
            files(&p, out);
        } else {
            out.push(p);
        }
    }
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
    let mut up = ciq
        .cmd(&["up"])
        .stdout(std::process::Stdio::null())
        .stderr(std::fs::File::create(&log).unwrap())
        .spawn()
        .expect("spawn ciq up");
    let read = || std::fs::read_to_string(&log).unwrap_or_default();
    let ok = wait_until(Duration::from_secs(20), || {
        read().contains("ciq up: using Redis")
    });
    let started = ciq.dir().join("started-tests.log");
    let exists = started.exists();
    sigterm(&up);
    let st = wait_exit(&mut up, Duration::from_secs(20)).expect("up stops on SIGTERM");
    assert!(ok && st.success(), "{st}\n{}", read());
    assert!(exists, "started-tests.log exists once up runs:\n{}", read());
    let tail = std::process::Command::new("tail")
        .arg("-n1")
        .arg(&started)
        .output()
        .unwrap();
    assert!(tail.status.success() && tail.stdout.is_empty());

    let mut made = vec![];
    files(ciq.dir(), &mut made);
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
        files(&root.join(d), &mut out);
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
