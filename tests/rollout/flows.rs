//! The stage walk, resuming after failures, dry runs, idempotence and --verify-cron.

use super::*;

fn walk_stages_and_back(cron: Cron) {
    let mut rig = Rig::new(cron);
    rig.assert_stage(0);
    rig.healthy();
    for stage in 1..=3u8 {
        let out = rig.run(&["migrate-from-cron", "next", "--yes"]);
        assert_eq!(code(&out), 0, "{}", text(&out));
        rig.assert_stage(stage);
    }
    // The units run as the platform's user, in its folder, with the config in use.
    let unit = std::fs::read_to_string(rig.p("systemd/ciq-worker.service")).unwrap();
    let cfg = std::fs::canonicalize(rig.ciq.dir().join("ciq.toml")).unwrap();
    for want in [
        "User=www-data\n".to_string(),
        "Group=www-data\n".to_string(),
        format!("WorkingDirectory={}\n", rig.p("platform").display()),
        format!("--config {} work\n", cfg.display()),
    ] {
        assert!(unit.contains(&want), "{want:?} in\n{unit}");
    }
    assert!(
        rig.p("sim/history-platform").exists(),
        "the platform was restarted after the flag changed"
    );
    rig.redis_down();
    let out = rig.run(&["rollback", "--yes"]);
    assert_eq!(code(&out), 0, "{}", text(&out));
    assert_eq!(rig.config_py().as_bytes(), CONFIG_PY.as_bytes());
    assert_eq!(rig.cron_text(), rig.cron_original().0);
    rig.assert_stage(0);
    let restarts = std::fs::read_to_string(rig.p("sim/history-platform")).unwrap();
    assert_eq!(restarts.lines().count(), 2, "one restart per flag change");
    // flag and cron at stage 2, cron at stage 3, flag and cron in the rollback
    let backups = std::fs::read_dir(rig.p("backups")).unwrap().count();
    assert_eq!(backups, 5, "a backup before every edit of an existing file");
    let steps: Vec<String> = rig
        .audit()
        .iter()
        .map(|e| {
            format!(
                "{} {}",
                e["command"].as_str().unwrap(),
                e["outcome"].as_str().unwrap()
            )
        })
        .collect();
    assert!(steps.iter().any(|s| s == "rollback applied"), "{steps:?}");
    // A second rollback installs no crontab and calls no changing systemctl verb.
    let (writes, calls) = (rig.crontab_writes(), rig.mutations().len());
    rig.ok(&["rollback", "--yes"]);
    assert_eq!(
        (rig.crontab_writes(), rig.mutations().len()),
        (writes, calls)
    );
    if cron == Cron::User {
        assert_eq!(
            writes, 3,
            "crontab installed at stages 2 and 3 and by the rollback"
        );
    }
}

#[test]
fn rollout_stages_walk_and_rollback_cron_d_file() {
    walk_stages_and_back(Cron::File);
}

#[test]
fn rollout_stages_walk_and_rollback_user_crontab() {
    walk_stages_and_back(Cron::User);
}

#[test]
fn rollout_rollback_resumes_after_a_failure_at_each_step() {
    // (what fails, how the failure is injected)
    type Inject<'a> = &'a dyn Fn(&Rig);
    let cases: [(&str, Inject); 6] = [
        ("stop beat", &|r: &Rig| r.fail("stop-ciq-beat", 1)),
        ("stop worker", &|r: &Rig| r.fail("stop-ciq-worker", 1)),
        ("flag", &|r: &Rig| {
            std::fs::write(r.p("backups"), "not a dir").unwrap()
        }),
        ("restart", &|r: &Rig| r.fail("restart-platform", 1)),
        ("cron", &|r: &Rig| r.fail("crontab-write", 1)),
        // plan read, step read, read-back after writing, then the verify step's read
        ("verify", &|r: &Rig| r.fail("crontab-list", 4)),
    ];
    for (name, inject) in cases {
        let mut rig = Rig::new(Cron::User);
        rig.to_stage_3();
        rig.redis_down();
        if rig.p("backups").exists() && name == "flag" {
            std::fs::remove_dir_all(rig.p("backups")).unwrap();
        }
        inject(&rig);
        let out = rig.run(&["rollback", "--yes"]);
        assert_eq!(
            code(&out),
            1,
            "{name}: the failure stops the rollback: {}",
            text(&out)
        );
        assert!(text(&out).contains("FAILED"), "{name}: {}", text(&out));
        assert!(
            rig.audit().iter().any(|e| e["outcome"] == "failed"),
            "{name}: failure in the audit log"
        );
        if name == "flag" {
            std::fs::remove_file(rig.p("backups")).unwrap();
            assert_eq!(
                rig.config_py(),
                rig.config_at(3),
                "flag untouched when its backup failed"
            );
        }
        let out = rig.run(&["rollback", "--yes"]);
        assert_eq!(code(&out), 0, "{name}: rerun completes: {}", text(&out));
        rig.assert_stage(0);
        assert_eq!(rig.config_py(), CONFIG_PY, "{name}");
        assert_eq!(rig.cron_text(), USER_CRON, "{name}");
        // Stage 2's restart plus exactly one after the flag went back to False.
        let restarts = std::fs::read_to_string(rig.p("sim/history-platform")).unwrap();
        assert_eq!(
            restarts.lines().count(),
            2,
            "{name}: platform restarted once"
        );
    }
}

#[test]
fn rollout_dry_run_changes_nothing_and_second_run_is_a_no_op() {
    let mut rig = Rig::new(Cron::File);
    let before = rig.snapshot();
    let out = rig.run(&["migrate-from-cron", "next", "--dry-run"]);
    assert_eq!(code(&out), 0, "{}", text(&out));
    assert!(
        text(&out).contains("install"),
        "the plan is shown: {}",
        text(&out)
    );
    assert_same(&rig.snapshot(), &before, "migrate --dry-run changed a file");
    assert!(rig.mutations().is_empty(), "{:?}", rig.mutations());

    rig.to_stage_3();
    rig.redis_down();
    let at3 = rig.snapshot();
    let calls = rig.mutations().len();
    let out = rig.run(&["rollback", "--dry-run"]);
    assert_eq!(code(&out), 0, "{}", text(&out));
    let restored = format!("+{}", CRON_D.lines().nth(2).unwrap());
    assert!(
        text(&out).contains(&restored),
        "the plan shows the diff: {}",
        text(&out)
    );
    let plan: serde_json::Value =
        serde_json::from_str(&rig.ok(&["--json", "rollback", "--dry-run"])).unwrap();
    assert_eq!(plan["from"], 3, "{plan}");
    let needed: Vec<&str> = plan["steps"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|s| s["needed"] == true && s["read_only"] == false)
        .map(|s| s["action"].as_str().unwrap())
        .collect();
    assert_eq!(
        needed,
        [
            "stop_unit",
            "stop_unit",
            "set_flag",
            "restart_platform",
            "set_cron"
        ]
    );
    assert_same(&rig.snapshot(), &at3, "rollback --dry-run changed a file");
    assert_eq!(
        rig.mutations().len(),
        calls,
        "rollback --dry-run called systemctl"
    );

    rig.ok(&["rollback", "--yes"]);
    let done = rig.snapshot();
    let calls = rig.mutations().len();
    let out = rig.run(&["rollback", "--yes"]);
    assert_eq!(code(&out), 0, "{}", text(&out));
    assert!(text(&out).contains("nothing to change"), "{}", text(&out));
    assert_same(&rig.snapshot(), &done, "a second rollback changed a file");
    assert_eq!(
        rig.mutations().len(),
        calls,
        "a second rollback called systemctl"
    );
    // Without a terminal, nothing to do is still fine; something to do is refused.
    rig.ok(&["rollback"]);
    rig.redis_up();
    rig.ok(&["migrate-from-cron", "--to-stage", "1", "--yes"]);
    let at1 = rig.snapshot();
    let out = rig.run(&["migrate-from-cron", "--to-stage", "1", "--yes"]);
    assert!(text(&out).contains("nothing to change"), "{}", text(&out));
    assert_same(&rig.snapshot(), &at1, "files changed");
    let out = rig.run(&["rollback"]);
    assert_eq!(code(&out), 6, "no TTY and no --yes: {}", text(&out));
    assert_same(&rig.snapshot(), &at1, "files changed");
}

#[test]
fn rollout_verify_cron_waits_for_a_new_run_in_the_cron_log() {
    let mut rig = Rig::new(Cron::File);
    rig.redis_down();
    let line = "Nov 28 08:00:01 host CRON[7]: (www-data) CMD (python mod_ci/cron.py)\n";
    std::fs::write(rig.p("cron.log"), line).unwrap();
    // A run logged before the rollback does not count: the bounded wait times out.
    let out = rig.run(&["rollback", "--yes", "--verify-cron", "1s"]);
    assert_eq!(code(&out), 5, "{}", text(&out));
    assert!(
        text(&out).contains("was not rewritten by a cron run"),
        "{}",
        text(&out)
    );
    // A run logged while it waits does.
    let mut child = rig
        .ciq
        .cmd(&["rollback", "--yes", "--verify-cron", "20s"])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    // Cron "runs" every 300ms until the command notices (robust to a slow start).
    let mut status = None;
    for _ in 0..50 {
        std::thread::sleep(std::time::Duration::from_millis(300));
        let mut f = std::fs::OpenOptions::new()
            .append(true)
            .open(rig.p("cron.log"))
            .unwrap();
        std::io::Write::write_all(&mut f, line.as_bytes()).unwrap();
        if let Ok(Some(s)) = child.try_wait() {
            status = Some(s);
            break;
        }
    }
    if status.is_none() {
        status = crate::harness::wait_exit(&mut child, std::time::Duration::from_secs(5));
    }
    assert!(status.is_some_and(|s| s.success()), "{status:?}");
}

#[test]
fn rollout_rollback_stops_the_queue_even_when_the_cron_line_is_gone() {
    let mut rig = Rig::new(Cron::File);
    rig.to_stage_3();
    rig.redis_down();
    // Someone deleted the (commented-out) cron line by hand.
    let without: String = rig
        .cron_text()
        .lines()
        .filter(|l| !l.contains("mod_ci/cron.py") || l.starts_with("# m h"))
        .map(|l| format!("{l}\n"))
        .collect();
    std::fs::write(rig.p("cron.d/sample-platform"), &without).unwrap();
    let out = rig.run(&["rollback", "--yes"]);
    assert_eq!(code(&out), 1, "{}", text(&out));
    assert!(
        text(&out).contains("BLOCKED"),
        "the plan says so: {}",
        text(&out)
    );
    assert!(
        text(&out).contains("no cron line runs mod_ci/cron.py"),
        "{}",
        text(&out)
    );
    assert!(
        !rig.active("ciq-worker") && !rig.active("ciq-beat"),
        "queue stopped"
    );
    assert_eq!(rig.config_py(), CONFIG_PY, "flag back to False");
    assert_eq!(rig.cron_text(), without, "the cron file is left alone");
    // The operator puts the line back; the rerun finishes.
    std::fs::write(rig.p("cron.d/sample-platform"), CRON_D).unwrap();
    rig.ok(&["rollback", "--yes"]);
    rig.assert_stage(0);
    // Moving forward refuses up front instead.
    std::fs::write(rig.p("cron.d/sample-platform"), &without).unwrap();
    rig.redis_up();
    rig.healthy();
    let out = rig.run(&["migrate-from-cron", "next", "--yes", "--force"]);
    assert_eq!(code(&out), 1, "{}", text(&out));
    assert!(!rig.active("ciq-worker"), "nothing started: {}", text(&out));
}
