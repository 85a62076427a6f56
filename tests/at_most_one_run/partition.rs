//! A worker cut off from Redis (a proxy on loopback holds every byte back; the TCP
//! connections stay open) while it runs a unique task and holds the queues' upkeep.

use super::*;
use crate::harness::proxy::HoldingProxy;
use std::time::Instant;

/// `ciq work` with the fast test knobs, talking to Redis at `broker`.
fn spawn_worker_at(ciq: &Ciq, broker: &str, name: &str) -> Proc {
    let log = std::fs::File::create(ciq.dir().join(format!("{name}.log"))).unwrap();
    ciq.cmd(&["work", "--name", name, "--concurrency", "4"])
        .env("CIQ_BROKER", broker)
        .env("CIQ_LEASE", "2s")
        .env("CIQ_HEARTBEAT", "500ms")
        .env("CIQ_SWEEP", "500ms")
        .env("CIQ_UPKEEP_LEASE", "1s")
        .env("CIQ_SHUTDOWN_TIMEOUT", "5s")
        .stdout(std::process::Stdio::null())
        .stderr(log)
        .spawn()
        .map(Proc)
        .expect("spawn worker")
}

/// The cut-off worker stops its run before the task's lease can expire, and the task
/// runs on another worker within lease + sweep + heartbeat of the cut, although the
/// cut-off worker held every queue's upkeep lease. Never two runs at once; the stopped
/// run reports no outcome and its history says why.
#[test]
fn a_worker_cut_off_from_redis_stops_its_run_before_the_task_runs_elsewhere() {
    let redis = Redis::start();
    let proxy = HoldingProxy::start(redis.port);
    let ciq = Ciq::new(&redis);
    let file = config(&ciq, "");
    let mut a = spawn_worker_at(&ciq, &proxy.url(), "a");
    assert!(
        wait_until(Duration::from_secs(10), || QUEUES
            .iter()
            .all(|q| redis.cli(&["GET", &keys::q(q).upkeep]).starts_with("a@"))),
        "a holds every queue's upkeep lease; log: {}",
        ciq.log("a")
    );
    let id = enqueue(&ciq, "default", "6", Some("start_test:7"));
    assert!(
        wait_until(Duration::from_secs(10), || !runs(&file).is_empty()),
        "a starts the task; log: {}",
        ciq.log("a")
    );
    let mut c = spawn_worker_at(&ciq, &redis.url(), "c");
    let run1 = runs(&file)[0].clone();
    proxy.hold();
    let cut = now_ms();
    let t0 = Instant::now();
    let mut run1_gone_at = None;
    let mut run2 = None;
    while t0.elapsed() < Duration::from_secs(20) && run2.is_none() {
        if run1_gone_at.is_none() && !crate::fencing::process_alive(run1.pid) {
            run1_gone_at = Some(now_ms());
        }
        run2 = runs(&file).into_iter().find(|r| r.pid != run1.pid);
        std::thread::sleep(Duration::from_millis(10));
    }
    let run2 = run2.unwrap_or_else(|| {
        panic!(
            "the task runs on c; logs:\n{}\n{}",
            ciq.log("a"),
            ciq.log("c")
        )
    });
    let gone = run1_gone_at.expect("run 1 was stopped");
    assert!(
        gone <= run2.start,
        "run 1 was gone ({gone}) before run 2 started ({}): never two runs at once",
        run2.start
    );
    assert!(
        run1.end.is_none() && runs(&file)[0].end.is_none(),
        "run 1 never finished"
    );
    let recovery = run2.start - cut;
    // lease 2 s + sweep 0.5 s + heartbeat 0.5 s, and a second for a loaded machine.
    assert!(
        recovery <= 4_000,
        "recovered {recovery} ms after the cut; logs:\n{}\n{}",
        ciq.log("a"),
        ciq.log("c")
    );
    eprintln!(
        "partition: run 1 stopped {} ms after the cut, run 2 started {recovery} ms after it",
        gone - cut
    );
    proxy.release();
    assert!(
        wait_until(Duration::from_secs(20), || stat_sum(&redis, "done") == 1),
        "run 2's outcome is recorded; logs:\n{}\n{}",
        ciq.log("a"),
        ciq.log("c")
    );
    assert!(
        wait_until(Duration::from_secs(15), || ciq
            .log("a")
            .contains("stopped run noted in the task's history")),
        "a records its stopped run once Redis is back; log: {}",
        ciq.log("a")
    );
    assert_eq!(starts_per_task(&file).get(&id), Some(&2));
    let hist = ciq.ok(&["inspect", "task", &id]);
    assert!(hist.contains("fenced"), "{hist}");
    assert!(
        hist.contains("stopped before the lease could expire"),
        "{hist}"
    );
    for w in [&mut a, &mut c] {
        assert!(w.stop(Duration::from_secs(15)).is_some_and(|s| s.success()));
    }
}
