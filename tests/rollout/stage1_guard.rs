//! Stage 1 is a shadow: with the platform's flag off, `ciq cron-guard` runs the cron every
//! time, even while the queue is healthy. Configured as docs/platform.md shows (`[platform]
//! config_py`), and with the old `[rollout] platform_config` alone (as docs/rollout.md
//! once showed: read as `[platform] config_py`, with a warning); two keys naming two
//! files are refused in one line.

use crate::harness::*;
use std::time::Duration;

fn guard(ciq: &Ciq, out: &std::path::Path) -> std::process::Output {
    let log = ciq.dir().join("guard.log").display().to_string();
    let cmd = format!("echo ran >> {}", out.display());
    bounded(
        ciq.cmd(&["cron-guard", "--log", &log, "--lock-wait", "5s", "--", &cmd]),
        Duration::from_secs(30),
    )
}

#[test]
fn stage_1_runs_the_cron_every_time_whichever_key_names_config_py() {
    let redis = Redis::start_aof();
    let ciq = Ciq::new(&redis);
    let dir = ciq.dir().to_path_buf();
    let py = dir.join("config.py");
    std::fs::write(
        &py,
        "USE_CELERY_TASKS = False\nGCP_INSTANCE_MAX_RUNTIME = 120\n",
    )
    .unwrap();
    let lock = dir.join("lock").display().to_string();
    let db = format!("sqlite://{}/p.db", dir.display());
    // A healthy queue: a worker and a beat (the guard would skip the cron in stage 2).
    ciq.config(&format!("database = \"{db}\"\n"));
    let _w = ciq.spawn_worker("w", &[]);
    let _b = crate::beat::spawn_beat(&ciq, "b", "2s");
    assert!(wait_until(Duration::from_secs(15), || ciq
        .run(&["status"])
        .status
        .success()));

    let as_docs = format!(
        "database = \"{db}\"\n[platform]\nconfig_py = \"{}\"\npython = \"python3\"\nlock_dir = \"{lock}\"\n\n[rollout]\ncrontab = \"{}\"\nservice_user = \"www-data\"\n",
        py.display(),
        dir.join("cron.d").display()
    );
    let old_key = format!(
        "database = \"{db}\"\n[platform]\nlock_dir = \"{lock}\"\n[rollout]\nplatform_config = \"{}\"\n",
        py.display()
    );
    for (what, cfg, warning) in [
        ("as the docs show", &as_docs, false),
        ("old key", &old_key, true),
    ] {
        ciq.config(cfg);
        let out = dir.join(format!("ran-{}", what.replace(' ', "-")));
        for _ in 0..2 {
            let o = guard(&ciq, &out);
            let err = String::from_utf8_lossy(&o.stderr).to_string();
            assert!(o.status.success(), "{what}: {err}");
            assert_eq!(
                err.contains("warning: ciq.toml: rollout.platform_config is the old name of [platform] config_py"),
                warning,
                "{what}: {err}"
            );
        }
        let ran = std::fs::read_to_string(&out).unwrap_or_default();
        assert_eq!(
            ran.lines().count(),
            2,
            "{what}: the cron ran every time: {}",
            ciq.log("guard")
        );
    }
    let log = std::fs::read_to_string(dir.join("guard.log")).unwrap();
    assert!(!log.contains("skip"), "{log}");
    assert_eq!(
        log.matches("run: the platform's flag is off: the cron is primary")
            .count(),
        4,
        "{log}"
    );

    ciq.config(&format!(
        "[platform]\nconfig_py = \"{}\"\n[rollout]\nplatform_config = \"/elsewhere/config.py\"\n",
        py.display()
    ));
    let o = ciq.run(&["config", "show"]);
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(
        err.contains("rollout.platform_config")
            && err.contains("names /elsewhere/config.py but [platform] config_py names"),
        "{err}"
    );
    assert_eq!(
        err.lines().filter(|l| l.starts_with("error:")).count(),
        1,
        "{err}"
    );
}
