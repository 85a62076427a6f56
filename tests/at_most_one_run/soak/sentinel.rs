//! The fault soak through Sentinel with `min_replicas = 1`: the workers find the master
//! through three sentinels (a master and one replica: `min_replicas` must count every
//! replica the sentinels may promote — with two replicas and `min_replicas = 1` this
//! soak saw acknowledged enqueues lost and overlapping runs, as the failover promoted
//! the replica that had not confirmed them). Half the faults are failovers, in turn
//! `SENTINEL FAILOVER` and `kill -9` of the master (the sentinels promote the replica;
//! the old master comes back with its AOF and becomes the new master's replica); the
//! rest SIGSTOP past the lease or `kill -9` of a worker (one worker's clock 3 % slow). A third of the tasks
//! are enqueued before the faults, the rest while they hit, each retried until
//! acknowledged. Partitions are left out: a worker reaches the master the sentinels
//! name directly, so no holding proxy sits on its way.

use super::*;
use crate::scale::servers::{wait, Node, SentinelSet};

/// The data node the sentinels call master, if it says so itself.
fn master(set: &SentinelSet) -> Option<&Node> {
    let p = set.master_port();
    set.data
        .iter()
        .find(|d| d.port == p)
        .filter(|n| n.role() == "master")
}

/// The master has a replica in sync: the next failover has somewhere to go.
fn in_sync(set: &SentinelSet) -> bool {
    master(set).is_some_and(|m| m.cli(&["INFO", "replication"]).contains("state=online"))
}

/// Waits until the sentinels name a master other than `old` and it has a replica in sync.
fn promoted_and_in_sync(set: &SentinelSet, old: u16) {
    assert!(
        wait(Duration::from_secs(30), || set.master_port() != old
            && master(set).is_some()),
        "the sentinels promoted the replica of {old}"
    );
    assert!(
        wait(Duration::from_secs(30), || in_sync(set)),
        "the new master {} has its replica in sync",
        set.master_port()
    );
}

/// `SENTINEL FAILOVER`, asked again while the sentinels refuse (a failover still
/// settling); then waits for the promotion and a replica in sync. Returns when it was
/// asked.
fn failover(set: &SentinelSet) -> u64 {
    let old = set.master_port();
    let mut at = now_ms();
    let asked = wait(Duration::from_secs(20), || {
        at = now_ms();
        set.sentinels[0]
            .cli(&["SENTINEL", "FAILOVER", "mymaster"])
            .trim()
            == "OK"
    });
    assert!(asked, "the sentinels accept a failover");
    promoted_and_in_sync(set, old);
    eprintln!(
        "SENTINEL FAILOVER: new master with a replica in sync after {} ms",
        now_ms() - at
    );
    at
}

/// `kill -9` of the master; once the sentinels have promoted the replica, the old master
/// comes back (AOF) and they make it the new master's replica. Returns the kill's time.
fn kill_master(set: &mut SentinelSet) -> u64 {
    let old = set.master_port();
    let at = now_ms();
    set.data.iter_mut().find(|d| d.port == old).unwrap().kill9();
    assert!(
        wait(Duration::from_secs(30), || set.master_port() != old
            && master(set).is_some()),
        "the sentinels promoted the replica after the master was killed"
    );
    set.data
        .iter_mut()
        .find(|d| d.port == old)
        .unwrap()
        .restart();
    promoted_and_in_sync(set, old);
    at
}

/// Task `i`, retried until the enqueue is acknowledged (a replica has it). A retry after
/// an enqueue that did land returns that task's id (the unique key holds it).
fn enqueue_acked(ciq: &Ciq, i: usize) -> String {
    let mut last = String::new();
    let t0 = Instant::now();
    while t0.elapsed() < Duration::from_secs(60) {
        match try_enqueue(ciq, i) {
            Ok(id) => return id,
            Err(e) => last = e,
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    panic!("enqueue {i} not acknowledged within 60 s: {last}");
}

pub(crate) fn sentinel_soak(secs: u64, tasks: usize) -> Soak {
    let mut set = SentinelSet::start_aof(1);
    let ciq = Ciq {
        home: tempfile::tempdir().expect("tempdir"),
        broker: set.url(),
    };
    soak_config(
        &ciq,
        "\n[broker]\nmin_replicas = 1\nmin_replicas_timeout = \"300ms\"\n",
    );
    let mut workers = workers(None);
    for w in workers.iter_mut() {
        w.proc = Some(spawn(&ciq, w));
    }
    let first = tasks / 3;
    let mut ids: Vec<String> = (0..first).map(|i| enqueue_acked(&ciq, i)).collect();
    let mut faults: Vec<Fault> = vec![];
    let later = std::thread::scope(|s| {
        let enqueuer = s.spawn(|| {
            let pace = Duration::from_secs(secs) * 7 / 10 / (tasks - first).max(1) as u32;
            (first..tasks)
                .map(|i| {
                    std::thread::sleep(pace);
                    enqueue_acked(&ciq, i)
                })
                .collect::<Vec<_>>()
        });
        let mut rng = rand::thread_rng();
        let t0 = Instant::now();
        let mut n = 0;
        // At least one failover of each kind and a fault on a worker, however long
        // they take.
        while t0.elapsed() < Duration::from_secs(secs) || n < 3 {
            std::thread::sleep(Duration::from_millis(rng.gen_range(1500..3000)));
            // Half the faults failovers, the two kinds in turn.
            match n % 4 {
                0 => {
                    let at = failover(&set);
                    faults.push((at, "redis".into(), "failover", now_ms()));
                }
                2 => {
                    let at = kill_master(&mut set);
                    faults.push((at, "redis".into(), "master kill -9", now_ms()));
                }
                _ => {
                    let wi = rng.gen_range(0..workers.len());
                    let kind = ["sigstop", "kill -9"][rng.gen_range(0..2)];
                    let t = now_ms();
                    faults.push((t, workers[wi].name.clone(), kind, t));
                    worker_fault(&ciq, &mut workers[wi], kind);
                }
            }
            n += 1;
        }
        enqueuer.join().unwrap()
    });
    ids.extend(later);
    let int = |a: &[&str]| {
        let out = master(&set)?.cli(a);
        let t = out.trim();
        if t.is_empty() {
            Some(0)
        } else {
            t.parse().ok()
        }
    };
    drain_and_stop(&int, &mut workers);
    let ended = ended(&|a| master(&set).map(|m| m.cli(a)).unwrap_or_default());
    let mut s = analyse(&ciq, &ids, &ended, &faults, &workers);
    s.setup = "unique, 3 queues, 4 workers x c4 through 3 sentinels, 1 replica, min_replicas = 1, \
               one with a 3 % slow clock; two thirds enqueued during the faults"
        .into();
    s
}

/// The short Sentinel soak of the suite: 20 s of faults over 240 tasks, at least one
/// `SENTINEL FAILOVER` and one `kill -9` of the master among them. Never two runs of a
/// task at once, nothing lost, no acknowledged enqueue lost.
#[test]
fn fault_soak_through_sentinel_failovers_never_two_runs_at_once_and_nothing_lost() {
    let (secs, tasks) = knobs(20, 240);
    let s = sentinel_soak(secs, tasks);
    s.assert_held();
    for k in ["failover", "master kill -9"] {
        assert!(
            s.faults.get(k).is_some_and(|&n| n > 0),
            "{k} among the faults: {}",
            s.table()
        );
    }
}
