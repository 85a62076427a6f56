//! The vendored platform copy, the webhook patch and trigger, and the stand-in bridge.

use super::*;
use crate::harness::{ciq_bin, free_port, Ciq, Redis};
use std::collections::BTreeMap;

fn files(root: &Path) -> BTreeMap<String, Vec<u8>> {
    let mut out = BTreeMap::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                if p.file_name().is_some_and(|n| n == "__pycache__") {
                    continue;
                }
                stack.push(p);
            } else {
                let rel = p.strip_prefix(root).unwrap().display().to_string();
                out.insert(rel, std::fs::read(&p).unwrap());
            }
        }
    }
    out
}

/// The platform's own .gitattributes checks `*.bat` out with CRLF; compare those without.
fn normalized(name: &str, bytes: &[u8]) -> Vec<u8> {
    if name.ends_with(".bat") {
        String::from_utf8_lossy(bytes)
            .replace("\r\n", "\n")
            .into_bytes()
    } else {
        bytes.to_vec()
    }
}

#[test]
fn the_vendored_platform_is_byte_identical_to_the_pinned_snapshot() {
    let shared = Path::new("/work/shared/sample-platform");
    if !shared.is_dir() {
        eprintln!("skipped: {} is not on this machine", shared.display());
        return;
    }
    let (want, got) = (files(shared), files(&vendored_platform()));
    assert_eq!(
        want.keys().collect::<Vec<_>>(),
        got.keys().collect::<Vec<_>>(),
        "the same files"
    );
    for (name, bytes) in &want {
        assert!(
            normalized(name, bytes) == normalized(name, &got[name]),
            "third_party/sample-platform/{name} differs from {}",
            shared.display()
        );
    }
}

#[test]
fn the_webhook_patch_applies_cleanly_to_the_vendored_controllers() {
    let controllers = vendored_platform().join("mod_ci/controllers.py");
    let before = std::fs::read(&controllers).unwrap();
    let o = Command::new("patch")
        .args(["-p1", "--dry-run", "-d"])
        .arg(vendored_platform())
        .stdin(
            std::fs::File::open(repo_root().join("contrib/sample-platform/webhook.patch")).unwrap(),
        )
        .output()
        .expect("patch(1) runs");
    let out = String::from_utf8_lossy(&o.stdout).to_string() + &String::from_utf8_lossy(&o.stderr);
    assert!(o.status.success(), "{out}");
    assert!(
        !out.contains("offset") && !out.contains("fuzz"),
        "applies exactly: {out}"
    );
    assert_eq!(std::fs::read(&controllers).unwrap(), before, "dry run only");
}

/// Runs `trigger_test_tasks` inside the imported platform with config.py overrides.
fn trigger(p: &RealPlatform, env: &[(&str, &str)], config: &str, ids: &str) -> (Output, f64) {
    let script = format!(
        "import sys, time\nsys.path.insert(0, '.')\nsys.path.insert(0, {contrib:?})\n\
         import run, ciq_trigger\nrun.config.update({config})\nt = time.time()\n\
         ciq_trigger.trigger_test_tasks({ids}, 'a-bot-token')\nprint(time.time() - t)\n",
        contrib = repo_root()
            .join("contrib/sample-platform")
            .display()
            .to_string(),
    );
    let mut c = p.python();
    c.arg("-c").arg(script);
    for (k, v) in env {
        c.env(k, v);
    }
    let o = c.output().unwrap();
    assert!(
        o.status.success(),
        "the trigger raised into the webhook: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    let secs = String::from_utf8_lossy(&o.stdout)
        .lines()
        .last()
        .and_then(|l| l.trim().parse().ok())
        .unwrap_or(f64::MAX);
    (o, secs)
}

#[test]
fn the_webhook_trigger_enqueues_on_the_flag_and_never_fails_the_webhook() {
    let p = RealPlatform::new();
    let redis = Redis::start();
    let ciq = Ciq::new(&redis);
    let bin = ciq_bin().display().to_string();
    // A recording stand-in for ciq shows the exact command line.
    let rec = p.tmp().join("argv.txt");
    let fake = p.tmp().join("fake-ciq");
    std::fs::write(
        &fake,
        format!("#!/bin/sh\necho \"$@\" >> {}\necho 01FAKE\n", rec.display()),
    )
    .unwrap();
    std::fs::set_permissions(&fake, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    let fake_s = fake.display().to_string();

    trigger(
        &p,
        &[],
        &format!("{{'USE_CELERY_TASKS': False, 'CIQ_BIN': {fake_s:?}}}"),
        "[1, 2]",
    );
    assert!(!rec.exists(), "flag off: ciq is not run");
    trigger(
        &p,
        &[],
        &format!("{{'USE_CELERY_TASKS': True, 'CIQ_BIN': {fake_s:?}}}"),
        "[3]",
    );
    trigger(
        &p,
        &[],
        &format!("{{'USE_CELERY_TASKS': False, 'CIQ_ENABLED': True, 'CIQ_TRIGGER_FLAG': 'CIQ_ENABLED', 'CIQ_BIN': {fake_s:?}}}"),
        "[4]",
    );
    assert_eq!(
        std::fs::read_to_string(&rec).unwrap(),
        "enqueue start_test --arg test_id=3 --countdown 30s --unique start_test:3 --quiet\n\
         enqueue start_test --arg test_id=4 --countdown 30s --unique start_test:4 --quiet\n"
    );

    // The real ciq on a live Redis: enqueued once, the unique key holds.
    let (o, _) = trigger(
        &p,
        &[("CIQ_BROKER", &redis.url())],
        &format!("{{'USE_CELERY_TASKS': True, 'CIQ_BIN': {bin:?}}}"),
        "[6]",
    );
    let log = p.platform_log();
    let line = log
        .lines()
        .find(|l| l.contains("Queued test 6 via ciq ("))
        .unwrap_or_else(|| panic!("not queued: {log}\n{}", String::from_utf8_lossy(&o.stderr)));
    let id = line
        .rsplit('(')
        .next()
        .unwrap()
        .trim_end_matches(')')
        .to_string();
    let again = ciq.ok(&[
        "enqueue",
        "start_test",
        "--arg",
        "test_id=6",
        "--unique",
        "start_test:6",
    ]);
    assert_eq!(again.trim(), id, "the trigger's task holds the unique key");

    // Redis down and ciq missing: logged, the webhook goes on, quickly.
    let dead = format!("redis://127.0.0.1:{}", free_port());
    let (_, secs) = trigger(
        &p,
        &[("CIQ_BROKER", &dead)],
        &format!("{{'USE_CELERY_TASKS': True, 'CIQ_BIN': {bin:?}, 'CIQ_TRIGGER_TIMEOUT': 20}}"),
        "[7]",
    );
    assert!(secs < 20.0, "gave up on the dead broker in {secs}s");
    trigger(
        &p,
        &[],
        "{'USE_CELERY_TASKS': True, 'CIQ_BIN': '/nonexistent/ciq'}",
        "[8]",
    );
    let log = p.platform_log();
    assert!(log.contains("ciq enqueue for test 7 failed (exit"), "{log}");
    assert!(
        log.contains("ciq enqueue for test 8 could not run"),
        "{log}"
    );
    assert!(
        !log.contains("a-bot-token"),
        "the bot token is never passed on"
    );
}

#[test]
fn the_standin_bridge_plays_the_platforms_part_on_the_sqlite_database() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("platform.db");
    let script =
        std::fs::read_to_string(repo_root().join("src/platform/schema/sqlite.sql")).unwrap();
    let seed = "INSERT INTO test (id, platform, test_type, branch, \"commit\", pr_nr) VALUES \
        (1, 'linux', 'commit', 'master', 'abc', 0), (2, 'linux', 'pr', 'pull_request', 'abc', 0), \
        (3, 'windows', 'commit', 'master', 'abc', 0); \
        INSERT INTO maintenance_mode (platform, disabled) VALUES ('windows', 1);";
    let py = format!(
        "import sqlite3; c = sqlite3.connect({db:?}); c.executescript({script:?} + {seed:?}); c.commit()",
        db = db.display().to_string()
    );
    assert!(Command::new("python3")
        .arg("-c")
        .arg(py)
        .status()
        .unwrap()
        .success());
    let run = |args: &[&str]| {
        let o = Command::new("python3")
            .arg(repo_root().join("contrib/sample-platform/standin_bridge.py"))
            .arg("--database")
            .arg(&db)
            .args(args)
            .output()
            .unwrap();
        BridgeOut::from_output(&o)
    };
    let o = run(&["pending"]);
    assert_eq!(o.json["platforms"]["linux"]["pending"], json!([1, 2]));
    assert_eq!(o.json["platforms"]["windows"]["would_start"], json!([]));
    let o = run(&["start-test", "1"]);
    assert_eq!((o.code, o.result()), (0, "started"), "{o:?}");
    let o = run(&["start-test", "1"]);
    assert_eq!((o.code, o.result()), (0, "already_started"), "{o:?}");
    let o = run(&["start-test", "2"]);
    assert_eq!(
        (o.code, o.result(), o.reason()),
        (0, "finished", "Invalid PR number")
    );
    let o = run(&["start-test", "3"]);
    assert_eq!(
        (o.code, o.result(), o.reason()),
        (75, "deferred", "maintenance")
    );
    let o = run(&["start-test", "9"]);
    assert_eq!((o.code, o.result()), (0, "missing"));
    let log = std::fs::read_to_string(dir.path().join("started-tests.log")).unwrap();
    assert_eq!(log.lines().count(), 1, "{log}");
    assert!(log.ends_with("started linux-1\n"), "{log}");
    let o = run(&["maintain"]);
    assert_eq!(o.json["counts"]["expired"], json!(0), "{o:?}");
    let o = run(&["--max-runtime-minutes", "0", "maintain"]);
    assert_eq!(o.json["counts"]["expired"], json!(1), "{o:?}");
    let o = run(&["start-test", "1"]);
    assert_eq!(
        (o.result(), o.reason()),
        ("finished", "Could not complete test, time limit exceeded")
    );
    assert!(
        !repo_root()
            .join("contrib/sample-platform/__pycache__")
            .exists(),
        "no bytecode beside the installed scripts"
    );
}
