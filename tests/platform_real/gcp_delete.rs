//! A start cut midway (kill -9 of the worker, a second signal) leaves a VM with no
//! `gcp_instance` row, and on GCP deleting it is asynchronous: the VM stays listed
//! (STOPPING) and an insert of its name fails with HTTP 409, which the platform's
//! `start_test` does not catch. With the fake GCP holding deletes (`knobs.delete_hold`),
//! ciq's next start never inserts that name while it is taken: it defers (`vm_name_busy`,
//! no attempt used), brings `maintain` forward (the platform's orphan scan and
//! `verify_pending_deletions`), and starts the test once the delete is confirmed. In
//! both orders — the orphan scan before the retried start, and the retried start first —
//! the end is exactly one VM, one `gcp_instance` row, no PendingDeletion row, and no 409.

use super::queue::{queue, set_flag, stop_during_a_held_start, Queue};
use super::*;
use crate::harness::{keys, sigkill, sigterm, wait_exit};
use std::time::{Duration, Instant};

/// Polls `f` every 200 ms (each poll may read Redis and MariaDB) until it holds.
fn poll(timeout: Duration, mut f: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + timeout;
    while Instant::now() < deadline {
        if f() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    f()
}

/// VM inserts of `vm` the fake GCP received: (all, refused with 409 alreadyExists).
fn inserts(p: &RealPlatform, vm: &str) -> (usize, usize) {
    let s = p.fake_state();
    let of_vm: Vec<&Value> = s["insert_attempts"]
        .as_array()
        .map(|a| a.iter().filter(|r| r["name"] == json!(vm)).collect())
        .unwrap_or_default();
    let refused = of_vm.iter().filter(|r| r["status"] == json!(409)).count();
    (of_vm.len(), refused)
}

/// The status the fake GCP lists `vm` with, if it is listed.
fn vm_status(p: &RealPlatform, vm: &str) -> Option<String> {
    p.fake_state()["vms"][vm]["status"]
        .as_str()
        .map(str::to_string)
}

/// The end both orders must reach once GCP finished deleting: the test started once more
/// by ciq, one VM, one row, nothing left to verify, no insert refused, not canceled; and
/// the platform's own cron, run afterwards, changes nothing.
fn assert_one_vm_and_no_stale_rows(p: &RealPlatform, q: &Queue, id: i64, vm: &str) {
    assert!(
        poll(Duration::from_secs(60), || p.gcp_instances().len() == 1),
        "the start went through once the delete was done; {}",
        q.logs()
    );
    assert!(
        poll(Duration::from_secs(20), || q
            .redis
            .stat("test_execution", "done")
            == 1),
        "{}",
        q.logs()
    );
    assert_eq!(p.gcp_instances(), vec![(vm.to_string(), Some(id))]);
    assert_eq!(p.vms(), vec![vm.to_string()], "exactly one VM");
    assert_eq!(
        p.vm_creates(),
        vec![vm.to_string(), vm.to_string()],
        "the cut start's VM and the new one"
    );
    assert_eq!(inserts(p, vm), (2, 0), "no insert refused with 409");
    assert_eq!(p.pending_deletions(), vec![], "no PendingDeletion row left");
    assert!(p.progress(id).is_empty(), "not canceled");
    assert_eq!(
        q.redis.stat("test_execution", "retried"),
        0,
        "waiting for the name used no attempt; {}",
        q.logs()
    );
    // Back at stage 0 the platform's cron runs its whole loop: nothing to verify, no
    // orphan, nothing to start again.
    set_flag(p, false);
    p.run_cron();
    assert_eq!(p.gcp_instances(), vec![(vm.to_string(), Some(id))]);
    assert_eq!(p.vms(), vec![vm.to_string()]);
    assert_eq!(inserts(p, vm), (2, 0));
    assert_eq!(p.pending_deletions(), vec![]);
}

/// The task history of the one start_test task.
fn start_history(q: &Queue, task: &str) -> String {
    q.ciq.ok(&["inspect", "task", task])
}

/// Order 1: kill -9 of the worker cuts the start; the orphan scan runs before the start
/// is retried and GCP is still deleting the half-made VM when the retried start comes.
#[test]
fn a_cut_start_is_not_restarted_under_a_name_gcp_is_still_deleting_scan_first() {
    let p = RealPlatform::new();
    let id = p.add_tests(1, "linux", "commit")[0];
    let vm = format!("linux-{id}");
    set_flag(&p, true);
    p.knob("verify_hold", json!(true));
    p.knob("delete_hold", json!(true));
    let mut q = queue(&p, "");
    q.worker("w1", &[]);
    let task = q
        .ciq
        .ok(&["enqueue", "start_test", "--arg", &format!("test_id={id}")])
        .trim()
        .to_string();
    assert!(
        poll(Duration::from_secs(90), || p.vms().contains(&vm)),
        "the start created its VM; {}",
        q.logs()
    );
    // kill -9: the fence stops the bridge as soon as the worker is gone.
    sigkill(&mut q.workers[0]);
    p.knob("verify_hold", json!(false));
    // The platform's orphan scan (maintain waits for the cut start's lock to go).
    let o = p.maintain();
    assert_eq!((o.code, o.result()), (0, "maintained"), "{o:?}");
    assert!(p.gcp_instances().is_empty(), "the cut start wrote no row");
    assert_eq!(vm_status(&p, &vm).as_deref(), Some("STOPPING"));
    let pend = p.pending_deletions();
    assert_eq!(pend.len(), 1, "the scan's delete is tracked: {pend:?}");
    assert_eq!(pend[0].0, vm);

    // The start comes back (lease recovery) while GCP is still deleting the name.
    q.worker("w2", &[]);
    assert!(
        poll(Duration::from_secs(60), || q
            .redis
            .stat("test_execution", "deferred")
            >= 2
            && q.redis.stat("maintenance", "done") >= 1),
        "deferred twice, maintain brought forward; {}",
        q.logs()
    );
    assert_eq!(
        inserts(&p, &vm),
        (1, 0),
        "no insert while the name is taken"
    );
    assert!(p.gcp_instances().is_empty());
    assert_eq!(vm_status(&p, &vm).as_deref(), Some("STOPPING"));
    let hist = start_history(&q, &task);
    // (The history keeps the end of a long reason: the bridge's sentence for the name.)
    assert!(
        hist.contains("deferred")
            && hist.contains("is still being deleted by GCP (status STOPPING"),
        "{hist}"
    );
    // GCP finishes the delete; maintain confirms it, then the start goes through.
    p.knob("delete_hold", json!(false));
    assert_one_vm_and_no_stale_rows(&p, &q, id, &vm);
}

/// Order 2: a second signal cuts the start, and the retried start comes before any
/// orphan scan: it finds the half-made VM (no row) and defers, bringing the scan forward;
/// the scan's first delete fails (HTTP 500) and the next maintain retries it; while GCP
/// deletes, the start keeps waiting.
#[test]
fn a_cut_start_is_not_restarted_under_a_name_gcp_is_still_deleting_start_first() {
    let p = RealPlatform::new();
    p.knob("delete_hold", json!(true));
    let (mut q, mut w, id, vm) = stop_during_a_held_start(&p);
    sigterm(&w);
    assert!(wait_exit(&mut w, Duration::from_secs(30)).is_some());
    drop(w);
    assert_eq!(
        q.redis.int(&["LLEN", &keys::q("test_execution").pending]),
        1
    );
    assert!(p.gcp_instances().is_empty(), "the cut start wrote no row");
    p.knob("verify_hold", json!(false));
    p.knob("delete_fail", json!({ vm.clone(): 1 }));
    let env: Value = serde_json::from_str(
        q.redis
            .cli(&["LRANGE", &keys::q("test_execution").pending, "0", "0"])
            .trim(),
    )
    .expect("the pending start's envelope");
    let task = env["id"].as_str().unwrap().to_string();

    q.worker("w2", &[]);
    let mut hist = String::new();
    assert!(
        poll(Duration::from_secs(90), || {
            hist = start_history(&q, &task);
            hist.contains("is still being deleted by GCP (status STOPPING")
        }),
        "the start deferred, the scan it brought forward is deleting the VM; {:?}; {hist}\n{}",
        p.vm_deletes(),
        q.logs()
    );
    let events = hist.split_once("\nhistory\n").map_or("", |(_, h)| h);
    let first = events.find("gcp_instance row, left by a start cut midway");
    let later = events.find("is still being deleted by GCP");
    assert!(
        first.is_some() && first < later,
        "the start came before the scan, then waited for GCP: {hist}"
    );
    assert_eq!(
        p.vm_deletes().first(),
        Some(&(vm.clone(), false)),
        "the scan's first delete failed and was retried"
    );
    assert_eq!(vm_status(&p, &vm).as_deref(), Some("STOPPING"));
    assert_eq!(
        inserts(&p, &vm),
        (1, 0),
        "no insert while the name is taken"
    );
    assert!(p.gcp_instances().is_empty());
    p.knob("delete_hold", json!(false));
    assert_one_vm_and_no_stale_rows(&p, &q, id, &vm);
}
