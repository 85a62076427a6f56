//! ciq_bridge.py against the real platform code on MariaDB, with the fake GCP and GitHub.

use super::bridge_runs::{
    a_start_whose_vm_is_unverified, assert_deferred, assert_lock_busy, finish, no_secret,
    spawn_bridge,
};
use super::*;
use crate::harness::wait_until;
use std::time::{Duration, Instant};

#[test]
fn the_platform_imports_with_the_generated_config_and_its_models_make_the_schema() {
    let p = RealPlatform::new();
    let tables = p.tables();
    for t in [
        "test",
        "test_progress",
        "gcp_instance",
        "pending_deletion",
        "maintenance_mode",
        "fork",
    ] {
        assert!(
            tables.contains(&t.to_string()),
            "{t} missing from {tables:?}"
        );
    }
    // run.py imported with the generated config: the pending command answers from it.
    let pending = p.pending();
    assert_eq!(pending["linux"]["pending"], json!([]));
    assert_eq!(pending["windows"]["maintenance"], json!(false));
    let o = p.start_test(424242);
    assert_eq!((o.code, o.result()), (0, "missing"), "{o:?}");
    // No config.py in the folder: an error, on the JSON line, exit 1.
    let empty = p.tmp().join("empty");
    std::fs::create_dir_all(&empty).unwrap();
    let o = p.bridge(&["--platform-dir", empty.to_str().unwrap(), "pending"]);
    assert_eq!((o.code, o.result()), (1, "error"), "{o:?}");
}

#[test]
fn artifact_not_built_defers_without_progress_then_starts_once_it_appears() {
    let p = RealPlatform::new();
    let id = p.add_tests(1, "linux", "commit")[0];
    let sha = p.commit_of(id);
    p.artifact(&sha, "in_progress");
    let o = p.start_test(id);
    assert_deferred(&o, "artifact_not_ready", 120, "Build still in progress");
    assert_eq!(p.progress(id), vec![], "deferred leaves no progress row");
    assert!(p.vm_creates().is_empty());
    no_secret(&p, &o);

    p.artifact(&sha, "ready");
    let o = p.start_test(id);
    assert_eq!((o.code, o.result()), (0, "started"), "{o:?}");
    assert_eq!(p.vm_creates(), vec![format!("linux-{id}")]);
    assert_eq!(p.gcp_instances(), vec![(format!("linux-{id}"), Some(id))]);
    let o = p.start_test(id);
    assert_eq!((o.code, o.result()), (0, "already_started"), "{o:?}");
    assert_eq!(p.vm_creates().len(), 1, "one VM create");
}

#[test]
fn zone_exhausted_twice_then_capacity_defers_twice_and_starts_one_vm() {
    let p = RealPlatform::new();
    let id = p.add_tests(1, "linux", "commit")[0];
    p.knob("zone_exhausted", json!(2));
    for _ in 0..2 {
        let o = p.start_test(id);
        // The platform's own contributor message.
        assert_deferred(
            &o,
            "gcp_retryable",
            60,
            "GCP resources temporarily unavailable",
        );
        assert_eq!(p.progress(id), vec![]);
    }
    let o = p.start_test(id);
    assert_eq!((o.code, o.result()), (0, "started"), "{o:?}");
    assert_eq!(p.vm_creates(), vec![format!("linux-{id}")]);
    assert_eq!(
        p.fake_state()["insert_attempts"].as_array().unwrap().len(),
        3
    );
    assert!(
        p.statuses().is_empty(),
        "no failure posted: {:?}",
        p.statuses()
    );
}

#[test]
fn a_permanent_gcp_error_is_finished_by_the_platform_with_its_message_and_status() {
    let p = RealPlatform::new();
    let id = p.add_tests(1, "linux", "commit")[0];
    p.knob(
        "insert_error",
        json!({"code": "RESOURCE_NOT_FOUND", "message": "image gone"}),
    );
    let o = p.start_test(id);
    let msg = "Required GCP resource not found. Please contact the administrator.";
    assert_eq!(
        (o.code, o.result(), o.reason()),
        (0, "finished", msg),
        "{o:?}"
    );
    assert_eq!(p.progress(id), vec![("canceled".into(), msg.into())]);
    assert_eq!(
        p.statuses(),
        vec![GhStatus {
            sha: p.commit_of(id),
            state: "error".into(),
            description: msg.into(),
            context: "CI - linux".into()
        }]
    );
    assert!(p.gcp_instances().is_empty());
    no_secret(&p, &o);
}

#[test]
fn pr_number_zero_and_a_closed_pr_are_descheduled_by_the_platform() {
    let p = RealPlatform::new();
    let ids = p.seed(json!({"tests": [
        {"platform": "linux", "type": "pr", "pr_nr": 0, "commit": "1".repeat(40)},
        {"platform": "linux", "type": "pr", "pr_nr": 5, "commit": "2".repeat(40)},
        {"platform": "windows", "type": "pr", "pr_nr": 6, "commit": "3".repeat(40)},
    ]}))["tests"]
        .clone();
    let ids: Vec<i64> = ids
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_i64().unwrap())
        .collect();
    p.knob("pulls", json!({"5": "closed", "6": "open"}));

    let o = p.start_test(ids[0]);
    assert_eq!(
        (o.code, o.result(), o.reason()),
        (0, "finished", "Invalid PR number"),
        "{o:?}"
    );
    let o = p.start_test(ids[1]);
    assert_eq!(
        (o.code, o.result(), o.reason()),
        (0, "finished", "PR is closed"),
        "{o:?}"
    );
    assert_eq!(
        p.progress(ids[0]),
        vec![("canceled".into(), "Invalid PR number".into())]
    );
    assert_eq!(
        p.progress(ids[1]),
        vec![("canceled".into(), "PR is closed".into())]
    );
    let st = p.statuses();
    assert_eq!(st.len(), 2, "{st:?}");
    assert_eq!(
        (st[0].sha.as_str(), st[0].state.as_str()),
        ("1".repeat(40).as_str(), "failure")
    );
    assert_eq!(
        (st[1].description.as_str(), st[1].context.as_str()),
        ("PR is closed", "CI - linux")
    );
    // GitHub failing (after the platform's own retries) defers: nothing written.
    let flaky = p.seed(json!({"tests": [{"platform": "linux", "type": "pr", "pr_nr": 7, "commit": "4".repeat(40)}]}))
        ["tests"][0]
        .as_i64()
        .unwrap();
    p.knob("pulls", json!({"5": "closed", "6": "open", "7": "error"}));
    let o = p.start_test(flaky);
    assert_eq!(
        (o.code, o.result(), o.reason()),
        (75, "deferred", "github_error"),
        "{o:?}"
    );
    assert_eq!(o.json["retry_after_s"], json!(60));
    assert_eq!(p.progress(flaky), vec![]);
    // An open PR (on Windows) starts.
    let o = p.start_test(ids[2]);
    assert_eq!((o.code, o.result()), (0, "started"), "{o:?}");
    assert_eq!(p.vm_creates(), vec![format!("windows-{}", ids[2])]);
    // Finished stays finished: no second status, no second progress row.
    let o = p.start_test(ids[1]);
    assert_eq!((o.code, o.result()), (0, "finished"), "{o:?}");
    assert_eq!(p.statuses().len(), 2);
}

#[test]
fn maintain_expires_old_vms_deletes_orphans_and_retries_failed_deletes() {
    let p = RealPlatform::new();
    let ids = p.add_tests(3, "linux", "commit");
    let (old, failing, young) = (ids[0], ids[1], ids[2]);
    p.seed(json!({"instances": [
        {"name": format!("linux-{old}"), "test_id": old},
        {"name": format!("linux-{failing}"), "test_id": failing},
        {"name": format!("linux-{young}"), "test_id": young},
    ]}));
    p.add_vm(&format!("linux-{old}"), 200);
    p.add_vm(&format!("linux-{failing}"), 180);
    p.add_vm(&format!("linux-{young}"), 5);
    p.add_vm("linux-999999", 1); // no gcp_instance row: an orphan
    p.add_vm("build-box", 500); // not a test VM: left alone
    p.knob("delete_fail", json!({ format!("linux-{failing}"): 1 }));
    let o = p.maintain();
    assert_eq!((o.code, o.result()), (0, "maintained"), "{o:?}");
    no_secret(&p, &o);
    let expired = "Could not complete test, time limit exceeded";
    for t in [old, failing] {
        assert_eq!(p.progress(t), vec![("canceled".into(), expired.into())]);
    }
    assert_eq!(p.progress(young), vec![]);
    let errors: Vec<_> = p
        .statuses()
        .into_iter()
        .filter(|s| s.state == "error")
        .collect();
    assert_eq!(errors.len(), 2, "{errors:?}");
    assert!(errors
        .iter()
        .all(|s| s.description == expired && s.context == "CI - linux"));
    let deletes = p.vm_deletes();
    assert!(
        deletes.contains(&("linux-999999".into(), true)),
        "{deletes:?}"
    );
    let failed_vm = format!("linux-{failing}");
    let failed: Vec<_> = deletes.iter().filter(|d| !d.1).collect();
    assert_eq!(failed, vec![&(failed_vm.clone(), false)], "{deletes:?}");
    assert!(
        deletes.contains(&(format!("linux-{old}"), true)),
        "{deletes:?}"
    );
    let pend = p.pending_deletions();
    assert!(
        pend.contains(&(failed_vm.clone(), format!("failed-{failed_vm}"), 0)),
        "{pend:?}"
    );
    assert!(p.vms().contains(&failed_vm));
    assert!(!p.vms().contains(&"linux-999999".to_string()));
    assert!(p.vms().contains(&"build-box".to_string()));
    assert!(p.vms().contains(&format!("linux-{young}")));

    // The next maintain retries the failed delete (verify_pending_deletions), ...
    let o = p.maintain();
    assert_eq!((o.code, o.result()), (0, "maintained"), "{o:?}");
    assert!(
        !p.vms().contains(&failed_vm),
        "retried delete: {:?}",
        p.vms()
    );
    let pend = p.pending_deletions();
    let row = pend
        .iter()
        .find(|r| r.0 == failed_vm)
        .expect("still tracked");
    assert_eq!(row.2, 1, "one retry counted: {pend:?}");
    // ... and the one after confirms every deletion and drops the rows.
    let o = p.maintain();
    assert_eq!((o.code, o.result()), (0, "maintained"), "{o:?}");
    assert_eq!(p.pending_deletions(), vec![]);
    assert_eq!(o.json["counts"]["pending_deletions"], json!(0));
    // Each expired test was canceled once, however often maintain ran.
    assert_eq!(p.progress(old).len(), 1);
}

#[test]
fn maintain_waits_for_a_start_creating_its_vm_so_the_vm_is_not_taken_for_an_orphan() {
    let p = RealPlatform::new();
    // The VM create stays unverified until the test says so (the platform waits up to 60 s
    // before it writes the gcp_instance row).
    let (id, vm, start) = a_start_whose_vm_is_unverified(&p);
    assert!(
        p.gcp_instances().is_empty(),
        "the row comes after verification"
    );
    // While the start holds the lock shared, a maintain with a short wait defers...
    let o = p.bridge(&["--lock-wait", "0.5", "maintain"]);
    assert_lock_busy(&o);
    assert_eq!(o.json["retry_after_s"], json!(15));
    // ... and one that may wait, waits for the start: the VM is not deleted as an orphan.
    let err = p.tmp().join("maintain.stderr");
    let maintain = spawn_bridge(&p, &["--lock-wait", "300", "maintain"], Some(&err));
    assert!(
        wait_until(Duration::from_secs(90), || std::fs::read_to_string(&err)
            .unwrap_or_default()
            .contains("waiting for the platform lock")),
        "maintain waits for the lock"
    );
    p.knob("verify_hold", json!(false));
    let s = finish(start);
    assert_eq!(s.result(), "started", "{s:?}");
    let m = finish(maintain);
    assert_eq!((m.code, m.result()), (0, "maintained"), "{m:?}");
    assert_eq!(p.vm_deletes(), vec![], "no VM deleted");
    assert_eq!(p.vms(), vec![vm.clone()]);
    assert_eq!(p.gcp_instances(), vec![(vm, Some(id))]);
}

#[test]
fn a_second_start_of_the_same_test_defers_lock_busy_and_one_vm_is_created() {
    let p = RealPlatform::new();
    let (id, vm, first) = a_start_whose_vm_is_unverified(&p);
    let o = p.start_test(id);
    assert_lock_busy(&o);
    assert_eq!(o.json["test_id"], json!(id));
    p.knob("verify_hold", json!(false));
    let f = finish(first);
    assert_eq!(f.result(), "started", "{f:?}");
    assert_eq!(p.vm_creates(), vec![vm]);
}

#[test]
fn under_an_exclusive_holder_like_a_guarded_cron_run_a_start_defers_and_starts_after() {
    let p = RealPlatform::new();
    let id = p.add_tests(1, "linux", "commit")[0];
    let lock = p.lock_exclusive();
    let t0 = Instant::now();
    let o = p.bridge(&["--lock-wait", "1", "start-test", &id.to_string()]);
    assert_lock_busy(&o);
    assert!(
        t0.elapsed() >= Duration::from_secs(1),
        "it waited --lock-wait"
    );
    assert!(p.vm_creates().is_empty());
    // The cron itself runs under the holder (the guard's side) and starts the test.
    p.run_cron();
    assert_eq!(p.vm_creates(), vec![format!("linux-{id}")]);
    drop(lock);
    let o = p.start_test(id);
    assert_eq!((o.code, o.result()), (0, "already_started"), "{o:?}");
    assert_eq!(p.vm_creates().len(), 1);
}

/// Tests the platform's gcp_instance considered in a cron run, in order, from its own log
/// ("[linux-N] Starting test N" or "Test N already has progress entries").
fn considered_by_cron(p: &RealPlatform, ids: &[i64]) -> Vec<i64> {
    let log = p.platform_log();
    let mut seen: Vec<(usize, i64)> = ids
        .iter()
        .filter_map(|id| {
            let a = log.find(&format!("-{id}] Starting test {id}\n"));
            let b = log.find(&format!("Test {id} already has progress entries"));
            a.or(b).map(|pos| (pos, *id))
        })
        .collect();
    seen.sort();
    seen.into_iter().map(|(_, id)| id).collect()
}

#[test]
fn pending_equals_what_the_platforms_gcp_instance_starts_on_every_edge_case() {
    let p = RealPlatform::new();
    let (l, w) = p.seed_edge_cases();
    let pending = p.pending();
    assert_eq!(pending["linux"]["maintenance"], json!(false));
    assert_eq!(pending["windows"]["maintenance"], json!(true));
    assert_eq!(pending["linux"]["pending"], json!([l[2], l[4], l[5]]));
    assert_eq!(pending["windows"]["pending"], json!(w));
    assert_eq!(pending["windows"]["would_start"], json!([]));

    p.run_cron();
    let all: Vec<i64> = l.iter().chain(w.iter()).copied().collect();
    let mut would: Vec<i64> = vec![];
    for plat in ["linux", "windows"] {
        would.extend(
            pending[plat]["would_start"]
                .as_array()
                .unwrap()
                .iter()
                .map(|v| v.as_i64().unwrap()),
        );
    }
    assert_eq!(
        considered_by_cron(&p, &all),
        would,
        "log:\n{}",
        p.platform_log()
    );
    assert_eq!(
        p.vm_creates(),
        vec![format!("linux-{}", l[4]), format!("linux-{}", l[5])]
    );

    // The bridge on the same rows: maintenance defers, non-final progress is skipped by
    // start_test's own guard.
    let o = p.start_test(w[0]);
    assert_eq!(
        (o.code, o.result(), o.reason()),
        (75, "deferred", "maintenance"),
        "{o:?}"
    );
    assert_eq!(o.json["retry_after_s"], json!(300));
    let o = p.start_test(l[2]);
    assert_eq!((o.code, o.result()), (0, "skipped"), "{o:?}");
    assert!(o.reason().contains("already has progress entries"), "{o:?}");

    // A gcp_instance row with a NULL test_id: the platform's NOT IN then matches nothing.
    let more = p.add_tests(1, "linux", "commit");
    p.seed(json!({"instances": [{"name": "linux-orphan-row", "test_id": null}]}));
    let pending = p.pending();
    assert_eq!(pending["linux"]["pending"], json!([]), "{pending}");
    p.run_cron();
    assert_eq!(considered_by_cron(&p, &more), Vec::<i64>::new());
    assert_eq!(p.vm_creates().len(), 2, "the cron started nothing more");
}
