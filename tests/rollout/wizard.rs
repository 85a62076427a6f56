//! The rollback wizard driven through a pseudo-terminal.

use super::*;
use crate::harness::wait_exit;
use std::time::Duration;

/// Runs `ciq ARGS` under a pseudo-terminal, answering prompts: each (expect, send) waits
/// for `expect` in the output, then types `send`.
const PTY_DRIVER: &str = r#"
import json, os, pty, select, sys, time
script = json.loads(sys.argv[1])
argv = sys.argv[2:]
pid, fd = pty.fork()
if pid == 0:
    os.execv(argv[0], argv)
buf = b""
seen = b""
def fail(msg):
    sys.stderr.write(msg + "\n--- output ---\n" + seen.decode(errors="replace"))
    os.kill(pid, 9)
    sys.exit(99)
for expect, send in script:
    deadline = time.time() + 20
    while expect.encode() not in buf:
        if time.time() > deadline:
            fail("timed out waiting for %r" % expect)
        r, _, _ = select.select([fd], [], [], 0.1)
        if r:
            try:
                data = os.read(fd, 4096)
            except OSError:
                data = b""
            if not data:
                fail("ended while waiting for %r" % expect)
            buf += data
            seen += data
    buf = buf[buf.index(expect.encode()) + len(expect):]
    if send:
        time.sleep(0.2)
        os.write(fd, send.encode())
while True:
    try:
        data = os.read(fd, 4096)
    except OSError:
        break
    if not data:
        break
    seen += data
_, status = os.waitpid(pid, 0)
sys.stdout.write(seen.decode(errors="replace"))
sys.exit(os.waitstatus_to_exitcode(status))
"#;

fn wizard(rig: &Rig, script: &[(&str, &str)]) -> (i32, String) {
    under_pty(rig, &["rollback"], script)
}

fn under_pty(rig: &Rig, args: &[&str], script: &[(&str, &str)]) -> (i32, String) {
    let driver = rig.p("pty_driver.py");
    std::fs::write(&driver, PTY_DRIVER).unwrap();
    let script = serde_json::to_string(script).unwrap();
    let bin = crate::harness::ciq_bin();
    let out = std::process::Command::new("python3")
        .env_clear()
        .env("HOME", rig.ciq.dir())
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("TERM", "xterm")
        .env("CIQ_BROKER", &rig.ciq.broker)
        .env("CIQ_CONFIG", rig.ciq.config_path())
        .current_dir(rig.ciq.dir())
        .arg(&driver)
        .arg(&script)
        .arg(bin)
        .args(args)
        .output()
        .expect("python3 runs");
    let all = text(&out);
    let c = code(&out);
    assert_ne!(c, 99, "pty driver: {all}");
    (c, all)
}

const DOWN: &str = "\x1b[B";

#[test]
fn rollout_wizard_confirm_skip_and_abort_through_a_pty() {
    // Confirm every step: stage 0.
    let mut rig = Rig::new(Cron::File);
    rig.to_stage_3();
    rig.redis_down();
    let mut script = vec![];
    let steps = ["Step 1/6", "Step 2/6", "Step 3/6", "Step 4/6", "Step 5/6"];
    for s in steps {
        script.push((s, ""));
        script.push(("Apply this step?", "\r"));
    }
    script.push(("rollback complete", ""));
    let (c, out) = wizard(&rig, &script);
    assert_eq!(c, 0, "{out}");
    rig.assert_stage(0);

    // Skip stopping the beat, with a reason: everything else is rolled back.
    let mut rig = Rig::new(Cron::File);
    rig.to_stage_3();
    rig.redis_down();
    let mut script = vec![
        ("Step 1/6", ""),
        ("Apply this step?", DOWN),
        ("skip", "\r"),
        ("Reason for skipping", "beat stays for the audit team\r"),
    ];
    for s in &steps[1..] {
        script.push((s, ""));
        script.push(("Apply this step?", "\r"));
    }
    script.push(("skipped step", ""));
    let (c, out) = wizard(&rig, &script);
    assert_eq!(c, 7, "a skipped step is a partial rollback: {out}");
    assert!(
        rig.active("ciq-beat") && rig.enabled("ciq-beat"),
        "skipped: beat still runs"
    );
    assert!(!rig.active("ciq-worker") && !rig.enabled("ciq-worker"));
    assert_eq!(rig.config_py(), CONFIG_PY);
    assert_eq!(rig.cron_text(), CRON_D);
    let skip = rig
        .audit()
        .into_iter()
        .find(|e| e["outcome"] == "skipped")
        .expect("skip in the audit log");
    assert_eq!(skip["reason"], "beat stays for the audit team");
    assert_eq!(skip["step"], "stop ciq-beat");

    // Abort at the flag: the two stops are done, nothing after them.
    let mut rig = Rig::new(Cron::File);
    rig.to_stage_3();
    rig.redis_down();
    let down2 = format!("{DOWN}{DOWN}");
    let script = [
        ("Step 1/6", ""),
        ("Apply this step?", "\r"),
        ("Step 2/6", ""),
        ("Apply this step?", "\r"),
        ("Step 3/6", ""),
        ("Apply this step?", down2.as_str()),
        ("abort", "\r"),
        ("aborted", ""),
    ];
    let (c, out) = wizard(&rig, &script);
    assert_eq!(c, 1, "{out}");
    assert!(!rig.active("ciq-beat") && !rig.active("ciq-worker"));
    assert_eq!(
        rig.config_py(),
        rig.config_at(3),
        "flag untouched after abort"
    );
    assert_eq!(
        rig.cron_text(),
        rig.cron_at(3),
        "cron untouched after abort"
    );
    assert!(rig.audit().iter().any(|e| e["outcome"] == "aborted"));
    // And the rerun finishes it.
    rig.ok(&["rollback", "--yes"]);
    rig.assert_stage(0);
}

#[test]
fn rollout_migrate_asks_once_on_a_terminal() {
    let rig = Rig::new(Cron::File);
    let before = rig.snapshot();
    let (c, out) = under_pty(
        &rig,
        &["migrate-from-cron", "next"],
        &[("Move to stage 1?", "n\r"), ("aborted", "")],
    );
    assert_eq!(c, 1, "{out}");
    assert_same(&rig.snapshot(), &before, "answering no changes nothing");
    let (c, out) = under_pty(
        &rig,
        &["migrate-from-cron", "next"],
        &[("Move to stage 1?", "y\r"), ("now at stage 1", "")],
    );
    assert_eq!(c, 0, "{out}");
    rig.assert_stage(1);
}

/// Skips step `k` of the rollback from stage 3 (confirming the others) and returns the
/// exit code and what the terminal showed.
fn rollback_skipping(rig: &Rig, k: usize, follows: Option<usize>) -> (i32, String) {
    let mut script = vec![];
    for j in 1..=5 {
        if Some(j) == follows {
            continue; // not asked: it follows the skipped step
        }
        let step = format!("Step {j}/6");
        script.push((step, String::new()));
        if j == k {
            script.push(("Apply this step?".into(), DOWN.into()));
            script.push(("skip".into(), "\r".into()));
            script.push(("Reason for skipping".into(), "on call says so\r".into()));
        } else {
            script.push(("Apply this step?".into(), "\r".into()));
        }
    }
    script.push(("skipped step".into(), String::new()));
    let script: Vec<(&str, &str)> = script
        .iter()
        .map(|(a, b)| (a.as_str(), b.as_str()))
        .collect();
    wizard(rig, &script)
}

#[test]
fn rollout_wizard_says_skipped_not_done_and_compares_with_stage_0_skipping_each_step() {
    let flag_title = |rig: &Rig| {
        format!(
            "set USE_CELERY_TASKS = False in {}",
            rig.p("platform/config.py").display()
        )
    };
    for k in 1..=5usize {
        let rig = Rig::new(Cron::File);
        rig.to_stage_3();
        let restarts = || {
            std::fs::read_to_string(rig.p("sim/history-platform"))
                .unwrap_or_default()
                .lines()
                .count()
        };
        let before = restarts();
        let follows = (k == 3).then_some(4);
        let (c, out) = rollback_skipping(&rig, k, follows);
        assert_eq!(c, 7, "skipping step {k} is a partial rollback: {out}");
        assert!(
            !out.contains("expects running and enabled"),
            "warnings compare with stage 0: {out}"
        );
        let (skipped, warning, not_done) = match k {
            1 => (
                "[1/6] stop ciq-beat: skipped".to_string(),
                Some("warning: service ciq-beat: found ciq-beat running and enabled; stage 0 expects stopped and disabled"),
                None,
            ),
            2 => (
                "[2/6] stop ciq-worker: skipped".into(),
                Some("warning: service ciq-worker: found ciq-worker running and enabled; stage 0 expects stopped and disabled"),
                None,
            ),
            3 => (
                format!("[3/6] {}: skipped", flag_title(&rig)),
                Some("warning: flag USE_CELERY_TASKS: found True; stage 0 expects False"),
                Some(format!(
                    "[4/6] restart platform: not done (it follows \"{}\", which was skipped)",
                    flag_title(&rig)
                )),
            ),
            4 => ("[4/6] restart platform: skipped".into(), None, None),
            _ => (
                "[5/6] cron mod_ci/cron.py -> */10: skipped".into(),
                Some("warning: cron entry mod_ci/cron.py: found commented out by ciq; stage 0 expects every 10 minutes (*/10)"),
                Some("[6/6] verify the cron entry: not done (it follows \"cron mod_ci/cron.py -> */10\", which was skipped)".into()),
            ),
        };
        assert!(out.contains(&skipped), "step {k}: {skipped:?} in {out}");
        let warnings = out
            .lines()
            .filter(|l| l.contains("; stage 0 expects"))
            .count();
        match warning {
            Some(w) => {
                assert!(out.contains(w), "step {k}: {w:?} in {out}");
                assert_eq!(warnings, 1, "step {k}: {out}");
            }
            None => assert_eq!(warnings, 0, "step {k}: {out}"),
        }
        match &not_done {
            Some(n) => {
                assert!(out.contains(n.as_str()), "step {k}: {n:?} in {out}");
                assert!(out.contains("not done because of them:"), "{out}");
            }
            None => assert!(!out.contains("not done"), "step {k}: {out}"),
        }
        if k == 3 {
            assert!(!out.contains("restart platform: ok"), "{out}");
            assert_eq!(restarts(), before, "the platform was not restarted");
        }
        if k == 4 {
            assert_eq!(restarts(), before);
            assert!(
                out.contains("rollback done except 1 skipped step(s): restart platform"),
                "a skipped restart is not a complete rollback: {out}"
            );
        }
    }
}

/// In the wizard, the worker's stop says what it waits for; one Ctrl-C only warns, a
/// second cuts the platform start (a second SIGTERM to the worker), and the rollback goes
/// on to stage 0.
#[test]
fn rollback_wizard_ctrl_c_twice_cuts_the_start_the_stopping_worker_waits_for() {
    let rig = Rig::new(Cron::File);
    let mut w = super::stop_wait::worker_holding_a_start(&rig);
    let steps = ["Step 1/6", "Step 2/6", "Step 3/6", "Step 4/6", "Step 5/6"];
    let mut script = vec![];
    for (i, s) in steps.iter().enumerate() {
        script.push((*s, ""));
        script.push(("Apply this step?", "\r"));
        if i == 1 {
            // Step 2 stops the worker.
            script.push(("waiting for start_test test 7", "\x03"));
            script.push(("Press Ctrl-C again to cut", "\x03"));
            script.push(("cutting: a second SIGTERM to ciq-worker", ""));
        }
    }
    script.push(("rollback complete", ""));
    let (c, out) = wizard(&rig, &script);
    assert_eq!(c, 0, "{out}");
    assert!(
        wait_exit(&mut w, Duration::from_secs(10)).is_some(),
        "the worker ended"
    );
    assert_eq!(
        rig.redis.int(&["LLEN", &keys::q("test_execution").pending]),
        1,
        "the cut start is back in the queue"
    );
    rig.assert_stage(0);
}
