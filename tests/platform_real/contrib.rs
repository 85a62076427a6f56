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

/// Runs `trigger_test_tasks(ids, 'a-bot-token')` inside one imported platform, once per
/// scenario (environment, config.py overrides, ids); returns the seconds each call took.
fn trigger(p: &RealPlatform, scenarios: Value) -> Vec<f64> {
    let script =
        format!(
        "import json, os, sys, time\nsys.path.insert(0, '.')\nsys.path.insert(0, {contrib:?})\n\
         import run, ciq_trigger\nsecs = []\n\
         for env, config, ids in json.loads({scenarios:?}):\n\
         \x20   os.environ.update(env)\n\
         \x20   run.config.update(config)\n\
         \x20   t = time.time()\n\
         \x20   ciq_trigger.trigger_test_tasks(ids, 'a-bot-token')\n\
         \x20   secs.append(time.time() - t)\n\
         print(json.dumps(secs))\n",
        contrib = repo_root().join("contrib/sample-platform").display().to_string(),
        scenarios = scenarios.to_string(),
    );
    let o = p.python().arg("-c").arg(script).output().unwrap();
    assert!(
        o.status.success(),
        "the trigger raised into the webhook: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    let stdout = String::from_utf8_lossy(&o.stdout);
    serde_json::from_str(stdout.lines().last().unwrap_or("")).expect("seconds per call")
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
    let dead = format!("redis://127.0.0.1:{}", free_port());
    // The real ciq reads the test's own (empty) ciq.toml, via config.py's CIQ_CONFIG.
    let cfg = ciq.config_path().display().to_string();
    let flag = |on: bool, bin: &str| json!({"USE_CELERY_TASKS": on, "CIQ_BIN": bin, "CIQ_TRIGGER_FLAG": null, "CIQ_CONFIG": null});
    let secs = trigger(
        &p,
        json!([
            [{}, flag(false, fake.to_str().unwrap()), [1, 2]],
            [{}, flag(true, fake.to_str().unwrap()), [3]],
            [{}, {"USE_CELERY_TASKS": false, "CIQ_ENABLED": true, "CIQ_TRIGGER_FLAG": "CIQ_ENABLED"}, [4]],
            // The real ciq on a live Redis, then on a dead one, then no ciq at all.
            [{"CIQ_BROKER": redis.url()}, {"USE_CELERY_TASKS": true, "CIQ_BIN": bin, "CIQ_CONFIG": cfg}, [6]],
            [{"CIQ_BROKER": dead}, {"CIQ_TRIGGER_TIMEOUT": 20}, [7]],
            [{}, flag(true, "/nonexistent/ciq"), [8]],
        ]),
    );
    assert_eq!(
        std::fs::read_to_string(&rec).unwrap(),
        "enqueue start_test --arg test_id=3 --countdown 30s --unique start_test:3 --quiet\n\
         enqueue start_test --arg test_id=4 --countdown 30s --unique start_test:4 --quiet\n",
        "flag off: ciq not run; flag on (or the flag CIQ_TRIGGER_FLAG names): the PR's command"
    );
    let log = p.platform_log();
    let line = log
        .lines()
        .find(|l| l.contains("Queued test 6 via ciq ("))
        .unwrap_or_else(|| panic!("not queued: {log}"));
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
    assert!(secs[4] < 20.0, "gave up on the dead broker in {}s", secs[4]);
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
