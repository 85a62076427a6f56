//! Sentinel failover with `min_replicas = 1`: a lease renewal counts only once a replica
//! has it, so the lease a failover brings back always covers the runs still going.

use super::*;
use crate::fencing::process_alive;
use crate::scale::servers::{wait, SentinelSet};
use std::time::Instant;

/// Worker A runs a unique task through Sentinel with `min_replicas = 1`. The replica
/// stops taking the master's writes (SIGSTOP): the master still accepts A's renewals,
/// but no replica confirms them, so A's deadlines stay put and A stops the run before
/// the lease the replica holds expires. Then the master is killed and the replica
/// promoted (the old master comes back as its replica): the task runs again there,
/// after run 1 is gone, and is done once.
/// Before renewals waited for a replica, run 1 went on (its renewals on the master kept
/// it alive) while the only lease a failover keeps expired under it.
#[test]
fn with_min_replicas_a_renewal_no_replica_confirmed_does_not_keep_a_run_going() {
    let mut set = SentinelSet::start_aof(1);
    let ciq = Ciq {
        home: tempfile::tempdir().expect("tempdir"),
        broker: set.url(),
    };
    let file = config(
        &ciq,
        "[broker]\nmin_replicas = 1\nmin_replicas_timeout = \"300ms\"\n",
    );
    let lease = Duration::from_secs(2);
    let old = set.master_port();
    let replica = set.data.iter().find(|d| d.port != old).unwrap().port;
    let _a = ciq.spawn_worker("a", &["--concurrency", "2"]);
    let id = enqueue(&ciq, "test_execution", "6", Some("start_test:1"));
    assert!(
        wait_until(Duration::from_secs(15), || !runs(&file).is_empty()),
        "run 1 starts; log: {}",
        ciq.log("a")
    );
    let pid = runs(&file)[0].pid;
    let active = &keys::q("test_execution").active;
    assert!(
        wait(Duration::from_secs(5), || !set
            .node(replica)
            .cli(&["HGET", active, &id])
            .trim()
            .is_empty()),
        "the replica has the claim"
    );
    // Let a few renewals reach the replica, then stop it taking any more.
    std::thread::sleep(Duration::from_millis(1200));
    let rpid = set.node(replica).pid().unwrap();
    let stopped = Instant::now();
    unsafe { libc::kill(rpid, libc::SIGSTOP) };
    // The replica's copy of the lease was renewed no later than now: it expires within
    // a lease from here. Run 1 must be gone by then.
    let mut gone = None;
    while stopped.elapsed() < lease + Duration::from_secs(1) {
        if gone.is_none() && !process_alive(pid) {
            gone = Some(stopped.elapsed());
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    eprintln!("replica stopped; run 1 gone after {gone:?} (lease {lease:?})");
    assert!(
        gone.is_some_and(|g| g < lease),
        "run 1 is stopped before the replica's copy of its lease expires ({lease:?} after the \
         replica stopped confirming); gone after {gone:?}; log: {}",
        ciq.log("a")
    );
    // The failover: the master dies, the replica (its lease long expired) is promoted.
    set.data.iter_mut().find(|d| d.port == old).unwrap().kill9();
    unsafe { libc::kill(rpid, libc::SIGCONT) };
    assert!(
        wait(Duration::from_secs(30), || set.master_port() == replica
            && set.node(replica).role() == "master"),
        "sentinels promoted the replica"
    );
    // The old master comes back (AOF) as the new master's replica: with `min_replicas =
    // 1` nothing is acknowledged until a replica is there again.
    set.data
        .iter_mut()
        .find(|d| d.port == old)
        .unwrap()
        .restart();
    assert!(
        wait_until(Duration::from_secs(30), || runs(&file).len() >= 2
            && runs(&file)[1].end.is_some()),
        "the task runs again on the new master and finishes; runs {:?}; log: {}",
        runs(&file),
        ciq.log("a")
    );
    let r = runs(&file);
    assert!(r[0].end.is_none(), "run 1 never reached its end: {r:?}");
    assert_eq!(r.len(), 2, "two runs, one after the other: {r:?}");
    let done = || {
        set.node(replica)
            .cli(&["HGET", &keys::q("test_execution").stats, "done"])
            .trim()
            .to_string()
    };
    assert!(
        wait(Duration::from_secs(10), || done() == "1"),
        "the task is done once on the new master: {}; log: {}",
        done(),
        ciq.log("a")
    );
}

/// With `min_replicas = 1` and no replica at all, no claim is ever confirmed: the worker
/// gives each claimed task back as it was, so however long the replica is away the
/// tasks wait in pending on their first attempt — none recovered, none dead. Before,
/// each unconfirmed claim's lease expired and the sweep counted an attempt, until the
/// task went dead ("worker lost during the last allowed attempt").
#[test]
fn with_min_replicas_a_claim_no_replica_confirmed_is_given_back_without_spending_an_attempt() {
    let redis = Redis::start();
    let ciq = Ciq::new(&redis);
    let file = config(&ciq, "");
    let ids: Vec<String> = (0..2)
        .map(|_| enqueue(&ciq, "default", "0.1", None))
        .collect();
    config(
        &ciq,
        "[broker]\nmin_replicas = 1\nmin_replicas_timeout = \"200ms\"\n",
    );
    let _w = ciq.spawn_worker("a", &["--concurrency", "2"]);
    // Six leases (2 s) with claims refused all along.
    std::thread::sleep(Duration::from_secs(12));
    let log = ciq.log("a");
    assert!(
        log.contains("cannot claim tasks") && log.contains("not acknowledged"),
        "the worker's claims were not confirmed: {log}"
    );
    assert!(runs(&file).is_empty(), "nothing ran without a replica");
    assert_eq!(stat_sum(&redis, "recovered"), 0, "no lease expired: {log}");
    assert_eq!(stat_sum(&redis, "dead"), 0, "nothing went dead");
    assert_eq!(
        redis.int(&["LLEN", &keys::q("default").pending])
            + redis.int(&["HLEN", &keys::q("default").active]),
        2,
        "both tasks are still there"
    );
    for id in &ids {
        let t = ciq.ok(&["inspect", "task", id, "--json"]);
        let v: serde_json::Value = serde_json::from_str(&t).unwrap();
        assert_eq!(
            v["attempt"].as_u64(),
            Some(1),
            "{id} is on its first attempt: {t}"
        );
    }
}
