//! Beyond one Redis (issue 11): a broker behind Sentinel follows failovers, acknowledged
//! writes survive them, and idle fleets cost Redis little.

mod cluster;
mod cluster_servers;
mod cluster_tls;
mod idle;
pub(crate) mod servers;

use crate::harness::*;
use servers::{wait, SentinelSet};
use std::collections::HashMap;
use std::time::{Duration, Instant};

fn ciq_for(url: &str, config: &str) -> Ciq {
    let ciq = Ciq {
        home: tempfile::tempdir().expect("tempdir"),
        broker: url.to_string(),
    };
    ciq.config(config);
    ciq
}

/// A worker at `--concurrency 8` with short timing knobs (failover and migration tests
/// stay short) that logs each task it finishes (`runs` reads them).
fn spawn_worker(ciq: &Ciq, name: &str) -> Proc {
    let mut c = ciq.cmd(&["work", "--name", name, "--concurrency", "8"]);
    c.env("CIQ_LOG", "ciq=debug")
        .env("CIQ_LEASE", "3s")
        .env("CIQ_HEARTBEAT", "500ms")
        .env("CIQ_SWEEP", "500ms")
        .env("CIQ_UPKEEP_LEASE", "1s")
        .stdout(std::process::Stdio::null())
        .stderr(std::fs::File::create(ciq.dir().join(format!("{name}.log"))).unwrap());
    Proc(c.spawn().expect("spawn worker"))
}

/// Task ids from the workers' "task done" log lines, with how often each ran.
fn runs(ciq: &Ciq, workers: &[&str]) -> HashMap<String, usize> {
    let mut m = HashMap::new();
    for w in workers {
        for line in ciq.log(w).lines().filter(|l| l.contains("task done")) {
            if let Some(i) = line.find("\"id\":\"") {
                let id = &line[i + 6..];
                let id = &id[..id.find('"').unwrap_or(id.len())];
                *m.entry(id.to_string()).or_default() += 1;
            }
        }
    }
    m
}

fn done_on(node: &servers::Node) -> i64 {
    node.cli(&["HGET", &keys::q("default").stats, "done"])
        .trim()
        .parse()
        .unwrap_or(0)
}

/// 5,000 tasks draining with 2 workers; the master fails over mid-drain.
fn drain_through_failover(kill: bool, min_replicas: u32) {
    let mut set = SentinelSet::start();
    let ciq = ciq_for(
        &set.url(),
        &format!(
            "[broker]\nmin_replicas = {min_replicas}\nmin_replicas_timeout = \"300ms\"\n\
             [tasks.noop]\nmax_retries = 10\n[worker]\nmax_deliveries = 50\n"
        ),
    );
    let n = 5000;
    ciq.enqueue_noops(n, r#"{"sleep_ms": 5}"#);
    let old = set.master_port();
    let replica = set.data.iter().find(|d| d.port != old).unwrap().port;
    assert!(
        wait(Duration::from_secs(10), || set
            .node(replica)
            .cli(&["LLEN", &keys::q("default").pending])
            .trim()
            == n.to_string()),
        "the replica has every task before the failover"
    );
    let mut workers = [spawn_worker(&ciq, "w0"), spawn_worker(&ciq, "w1")];
    assert!(
        wait(Duration::from_secs(30), || runs(&ciq, &["w0", "w1"]).len()
            >= 1000),
        "workers started draining"
    );
    let t0 = Instant::now();
    if kill {
        set.data.iter_mut().find(|d| d.port == old).unwrap().kill9();
    } else {
        set.sentinels[0].cli(&["SENTINEL", "FAILOVER", "mymaster"]);
    }
    assert!(
        wait(Duration::from_secs(20), || set.master_port() == replica
            && set.node(replica).role() == "master"),
        "sentinels promoted the replica"
    );
    // Sentinel's own part (detection, election, promotion) is timed apart from ciq's.
    let promoted = t0.elapsed();
    let t1 = Instant::now();
    let base = done_on(set.node(replica));
    let resumed = wait(Duration::from_secs(20), || {
        done_on(set.node(replica)) > base
    });
    let resume = t1.elapsed();
    let all = wait(Duration::from_secs(90), || {
        runs(&ciq, &["w0", "w1"]).len() >= n
    });
    let r = runs(&ciq, &["w0", "w1"]);
    let twice = r.values().filter(|&&c| c > 1).count();
    let depth: serde_json::Value =
        serde_json::from_str(&ciq.ok(&["depth", "--json", "default"])).unwrap();
    for w in &mut workers {
        w.stop(Duration::from_secs(10));
    }
    eprintln!(
        "failover (kill={kill}, min_replicas={min_replicas}): promoted after {promoted:?}, \
         workers resumed {resume:?} later, \
         {} of {n} ran, {twice} ran twice",
        r.len()
    );
    assert!(
        resumed && resume < Duration::from_secs(10),
        "workers resumed within 10 s of the promotion: {resume:?}\n{}\n{}",
        ciq.log("w0"),
        ciq.log("w1")
    );
    assert!(all, "every task ran: {} of {n}\n{}", r.len(), ciq.log("w0"));
    let d = &depth[0];
    for k in ["pending", "active", "scheduled", "retry", "dead"] {
        assert_eq!(
            d[k].as_u64(),
            Some(0),
            "{k} is empty on the new master: {d}"
        );
    }
    // In flight: 2 workers × concurrency 8 claimed, plus one unacknowledged outcome batch each.
    assert!(twice <= 2 * 8 * 2, "{twice} tasks ran twice");
}

#[test]
fn sentinel_failover_mid_drain_loses_nothing() {
    drain_through_failover(false, 1);
}

#[test]
fn kill_9_of_the_sentinel_master_mid_drain_loses_nothing() {
    drain_through_failover(true, 0);
}

#[test]
fn acknowledged_enqueues_survive_a_failover() {
    let set = SentinelSet::start();
    let ciq = ciq_for(
        &set.url(),
        "[broker]\nmin_replicas = 1\nmin_replicas_timeout = \"300ms\"\n",
    );
    let old = set.master_port();
    let replica = set.data.iter().find(|d| d.port != old).unwrap().port;
    let stop = std::sync::atomic::AtomicBool::new(false);
    let (ids, refused) = std::thread::scope(|s| {
        let h = s.spawn(|| {
            let (mut ids, mut refused) = (vec![], 0);
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                let o = ciq.run(&["enqueue", "noop"]);
                if o.status.success() {
                    ids.push(String::from_utf8_lossy(&o.stdout).trim().to_string());
                } else {
                    assert_eq!(
                        o.status.code(),
                        Some(3),
                        "{}",
                        String::from_utf8_lossy(&o.stderr)
                    );
                    refused += 1;
                }
            }
            (ids, refused)
        });
        std::thread::sleep(Duration::from_millis(1500));
        set.sentinels[0].cli(&["SENTINEL", "FAILOVER", "mymaster"]);
        wait(Duration::from_secs(20), || set.master_port() == replica);
        // Keep enqueueing on the new master for a while.
        std::thread::sleep(Duration::from_secs(3));
        stop.store(true, std::sync::atomic::Ordering::Relaxed);
        h.join().unwrap()
    });
    let node = set.node(replica);
    assert_eq!(node.role(), "master");
    let pending = node.cli(&["LRANGE", &keys::q("default").pending, "0", "-1"]);
    let missing: Vec<&String> = ids
        .iter()
        .filter(|id| !pending.contains(id.as_str()))
        .collect();
    eprintln!(
        "{} enqueues acknowledged, {refused} refused during the failover",
        ids.len()
    );
    assert!(ids.len() > 10, "enqueues went on: {}", ids.len());
    assert!(
        missing.is_empty(),
        "{} acknowledged enqueues lost: {missing:?}",
        missing.len()
    );
}

/// `ciq depth` against broker `url` (an empty config): asserts it exits `code`; its stderr.
fn depth_error(url: &str, code: i32) -> String {
    ciq_for(url, "").fails(&["depth"], code)
}

#[test]
fn sentinel_url_errors_are_one_line_without_the_password() {
    let err = depth_error("redis+sentinel://u:s3cret@127.0.0.1:1/", 2);
    assert!(
        !err.contains("s3cret") && err.contains("names the master"),
        "{err}"
    );
    // A sentinel that never answers: exit 3, password masked.
    let port = free_port();
    let err = depth_error(
        &format!("redis+sentinel://u:s3cret@127.0.0.1:{port}/m/0"),
        3,
    );
    assert!(!err.contains("s3cret") && err.contains("u:***@"), "{err}");
}
