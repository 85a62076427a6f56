//! What `status` and the gate checks report, and what they refuse.

use super::*;

#[test]
fn rollout_status_names_drift_and_the_fix() {
    let rig = Rig::new(Cron::File);
    rig.healthy();
    rig.ok(&["migrate-from-cron", "--to-stage", "1", "--yes"]);
    // Someone puts the original cron line back by hand: the cron runs unguarded again.
    std::fs::write(rig.p("cron.d/sample-platform"), CRON_D).unwrap();
    let o = rig.run(&["migrate-from-cron", "status"]);
    let out = String::from_utf8_lossy(&o.stdout).to_string();
    assert_eq!(o.status.code(), Some(8), "DRIFT exits 8: {out}");
    assert!(out.contains("DRIFT"), "{out}");
    assert!(
        out.contains("cron entry mod_ci/cron.py: found every 10 minutes (*/10), stage 1 expects every 10 minutes through ciq cron-guard"),
        "{out}"
    );
    assert!(out.contains("ciq migrate-from-cron --to-stage 1"), "{out}");
    assert!(out.contains("ciq rollback"), "{out}");
    let j = rig.status();
    assert!(j["stage"].is_null(), "{j}");
    assert_eq!(
        j["drift"][0]["component"], "cron entry mod_ci/cron.py",
        "{j}"
    );
    assert_eq!(j["observed"]["cron"]["kind"], "every10", "{j}");
    // The named fix works and ends the drift.
    rig.ok(&["migrate-from-cron", "--to-stage", "1", "--yes"]);
    rig.assert_stage(1);
}

#[test]
fn rollout_gates_refuse_without_force_and_pass_when_healthy() {
    let rig = Rig::new(Cron::File);
    rig.ok(&["migrate-from-cron", "next", "--yes"]);
    rig.assert_stage(1);
    let at1 = rig.snapshot();
    // Nothing in Redis: no worker, no beat, no periodic runs.
    let out = rig.run(&["migrate-from-cron", "next", "--yes"]);
    assert_eq!(code(&out), 6, "{}", text(&out));
    assert!(text(&out).contains("worker alive"), "{}", text(&out));
    assert_same(&rig.snapshot(), &at1, "a refused move changed nothing");
    // Healthy, except one test pending for 20 minutes.
    rig.healthy();
    let old = (now_ms() - 20 * 60_000).to_string();
    rig.redis
        .cli(&["HSET", &keys::platform_first_seen(), "99", &old]);
    let out = rig.run(&["migrate-from-cron", "next", "--yes"]);
    assert_eq!(code(&out), 6, "{}", text(&out));
    assert!(text(&out).contains("test 99 pending"), "{}", text(&out));
    let j = rig.status();
    let failing: Vec<&str> = j["gates"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|g| g["ok"] == false)
        .map(|g| g["name"].as_str().unwrap())
        .collect();
    assert_eq!(failing, ["no stale pending tests"], "{j}");
    // --force goes ahead and says so in the audit log.
    rig.ok(&["migrate-from-cron", "next", "--yes", "--force"]);
    rig.assert_stage(2);
    assert!(rig.audit().iter().any(
        |e| e["outcome"] == "gates-forced" && e["reason"].as_str().unwrap().contains("test 99")
    ));
    // Healthy gates pass without --force.
    rig.redis.cli(&["HDEL", &keys::platform_first_seen(), "99"]);
    rig.ok(&["migrate-from-cron", "next", "--yes"]);
    rig.assert_stage(3);
}

/// Stops the child when the test ends, pass or fail.
struct Running(crate::harness::Proc);

impl Drop for Running {
    fn drop(&mut self) {
        self.0.stop(std::time::Duration::from_secs(5));
    }
}

#[test]
fn rollout_gates_pass_with_a_real_worker_and_beat() {
    let rig = Rig::new(Cron::File);
    rig.write_config("\n[schedule.tick]\ntask = \"noop\"\nevery = \"1s\"\n");
    rig.ok(&["migrate-from-cron", "next", "--yes"]);
    rig.assert_stage(1);
    let out = rig.run(&["migrate-from-cron", "next", "--yes"]);
    assert_eq!(code(&out), 6, "no worker or beat yet: {}", text(&out));
    let _worker = rig.ciq.spawn_worker("w", &[]);
    let _beat = Running(crate::harness::Proc(
        rig.ciq
            .cmd(&["beat", "--name", "b", "--lease", "2s", "--tick", "100ms"])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("spawn beat"),
    ));
    let failing = || -> Vec<String> {
        let j = rig.status();
        let gates = j["gates"].as_array().cloned().unwrap_or_default();
        if gates.is_empty() {
            return vec!["(none)".into()];
        }
        gates
            .iter()
            .filter(|g| g["ok"] != true)
            .map(|g| g["name"].as_str().unwrap_or("?").to_string())
            .collect()
    };
    // Everything but the shadow evidence passes: stage 2 is still refused.
    assert!(
        crate::harness::wait_until(std::time::Duration::from_secs(20), || failing()
            == ["shadow evidence"]),
        "gates: {}",
        rig.status()["gates"]
    );
    let out = rig.run(&["migrate-from-cron", "next", "--yes"]);
    assert_eq!(code(&out), 6, "no shadow evidence yet: {}", text(&out));
    // The shadow stage saw the test the cron started, five minutes earlier.
    let ago = |m: u64| (now_ms() - m * 60_000).to_string();
    rig.redis
        .cli(&["SET", &keys::platform_shadow_since(), &ago(60)]);
    rig.redis
        .cli(&["HSET", &keys::platform_shadow_seen(), "40", &ago(10)]);
    rig.redis
        .cli(&["HSET", &keys::platform_shadow_started(), "40", &ago(5)]);
    let gates = rig.status()["gates"].to_string();
    assert!(
        gates.contains("ciq saw 1 of 1 tests the cron started, a median 5m earlier; missed: none"),
        "{gates}"
    );
    assert!(failing().is_empty(), "{gates}");
    let out = rig.run(&["migrate-from-cron", "next", "--yes"]);
    assert_eq!(code(&out), 0, "{}", text(&out));
    rig.assert_stage(2);
}

/// `migrate-from-cron status --json` and `--dry-run --json` are contracts: read into
/// types defined here, so a renamed or retyped field fails (some fields are only parsed).
#[allow(dead_code)]
mod schema {
    use serde::Deserialize;

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    pub struct Status {
        pub stage: Option<u8>,
        pub stage_name: Option<String>,
        pub observed: Observed,
        pub drift: Vec<Drift>,
        pub fix: Vec<String>,
        pub recorded: Option<Recorded>,
        pub next_stage: Option<u8>,
        pub gates: Vec<Gate>,
    }

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    pub struct Observed {
        pub flag: Tagged,
        pub cron: Tagged,
        pub worker: Unit,
        pub beat: Unit,
    }

    #[derive(Debug, Deserialize)]
    pub struct Tagged {
        pub kind: String,
    }

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    pub struct Unit {
        pub active: bool,
        pub enabled: bool,
    }

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    pub struct Drift {
        pub component: String,
        pub found: String,
        pub expected: String,
    }

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    pub struct Recorded {
        pub stage: u8,
        pub at: String,
        pub by: String,
    }

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    pub struct Gate {
        pub name: String,
        pub ok: bool,
        pub not_yet_due: bool,
        pub detail: String,
    }

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    pub struct Plan {
        pub from: Option<u8>,
        pub to: u8,
        pub drift: Vec<Drift>,
        pub steps: Vec<Step>,
        pub gates: Vec<Gate>,
    }

    #[derive(Debug, Deserialize)]
    pub struct Step {
        pub title: String,
        pub action: String,
        pub needed: bool,
        pub read_only: bool,
        pub change: String,
        pub verify: String,
        pub blocked: Option<String>,
    }
}

#[test]
fn rollout_status_and_plan_json_schema() {
    let rig = Rig::new(Cron::File);
    rig.healthy();
    let s: schema::Status =
        serde_json::from_str(&rig.ok(&["--json", "migrate-from-cron", "status"])).unwrap();
    assert_eq!((s.stage, s.next_stage), (Some(0), Some(1)));
    assert_eq!(s.stage_name.as_deref(), Some("cron only"));
    assert_eq!(
        (s.observed.flag.kind.as_str(), s.observed.cron.kind.as_str()),
        ("false", "every10")
    );
    assert!(!s.observed.worker.active && !s.observed.beat.enabled);
    assert!(s.drift.is_empty() && s.fix.is_empty() && s.recorded.is_none());
    assert_eq!(s.gates[0].name, "broker reachable");
    assert!(s.gates[0].ok, "{}", s.gates[0].detail);
    let p: schema::Plan =
        serde_json::from_str(&rig.ok(&["--json", "migrate-from-cron", "next", "--dry-run"]))
            .unwrap();
    assert_eq!((p.from, p.to), (Some(0), 1));
    assert!(p.drift.is_empty());
    let first = &p.steps[0];
    assert_eq!(first.action, "install_unit");
    assert!(first.needed && !first.read_only && first.blocked.is_none());
    assert!(first.title.contains("ciq-worker.service") && first.change.contains("ExecStart="));
    assert!(!first.verify.is_empty());
    assert!(p.gates.iter().all(|g| g.ok));
    rig.ok(&["migrate-from-cron", "next", "--yes"]);
    let s: schema::Status =
        serde_json::from_str(&rig.ok(&["--json", "migrate-from-cron", "status"])).unwrap();
    let rec = s.recorded.expect("stage noted");
    assert_eq!(rec.stage, 1);
    assert!(!rec.at.is_empty() && !rec.by.is_empty());
}

#[test]
fn rollout_gates_tell_not_yet_due_from_failed() {
    let rig = Rig::new(Cron::File);
    rig.ok(&["migrate-from-cron", "next", "--yes"]);
    rig.healthy();
    // maintain fired 30 s ago for the first time; its task still waits in its queue.
    let fired = (now_ms() - 30_000).to_string();
    let id = rig.ok(&["enqueue", "maintain"]).trim().to_string();
    let entry = &keys::beat_entry("maintain");
    rig.redis.cli(&["HSET", entry, "last_fire_ms", &fired]);
    rig.redis.cli(&["HSET", entry, "last_task_id", &id]);
    rig.redis
        .cli(&["HDEL", &keys::q("maintenance").stats, "last_done:maintain"]);
    let all = rig.run_expecting(&["migrate-from-cron", "next", "--yes"], 6);
    assert!(
        all.contains("1 gate check(s) not yet due; nothing changed"),
        "{all}"
    );
    assert!(all.contains("not yet due"), "{all}");
    assert!(
        all.contains("its first run is waiting in its queue"),
        "{all}"
    );
    assert!(
        !all.contains("has not succeeded") && !all.contains("FAIL"),
        "{all}"
    );
    let g = rig.status()["gates"]
        .as_array()
        .unwrap()
        .iter()
        .find(|g| g["name"] == "periodic maintain")
        .cloned()
        .unwrap();
    assert_eq!(
        (g["ok"].clone(), g["not_yet_due"].clone()),
        (false.into(), true.into())
    );
    // Its task gone without a success: failed, not waiting.
    rig.redis
        .cli(&["HSET", entry, "last_task_id", "no-such-task"]);
    let all = rig.run_expecting(&["migrate-from-cron", "next", "--yes"], 6);
    assert!(
        all.contains("1 gate check(s) failed; nothing changed"),
        "{all}"
    );
    assert!(all.contains("did not run"), "{all}");
    rig.assert_stage(1);
}
