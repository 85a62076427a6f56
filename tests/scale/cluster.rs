//! Redis Cluster (issue 11): a real three-master cluster with the platform's three queues
//! on three masters; every operator command works, two beats fire each tick once, a slot
//! migration mid-drain loses nothing, and `status` names a node that is down.

use super::cluster_servers::{ClusterSet, QUEUES};
use super::servers::wait;
use super::{ciq_for, depth_error, runs, spawn_worker};
use crate::harness::*;
use std::collections::HashSet;
use std::time::Duration;

const CONFIG: &str = "[queues]\ntest_execution = 6\ndefault = 3\nmaintenance = 1\n\
    [tasks.noop]\nmax_retries = 0\n";

fn stop(procs: &mut [Proc]) {
    stop_all(procs, Duration::from_secs(10));
}

fn queue<'a>(d: &'a serde_json::Value, q: &str) -> &'a serde_json::Value {
    d.as_array()
        .and_then(|a| a.iter().find(|x| x["queue"] == q))
        .unwrap_or_else(|| panic!("queue {q} in {d}"))
}

fn drained(ciq: &Ciq) -> bool {
    let d = ciq.depth_all();
    QUEUES.iter().all(|q| {
        let x = queue(&d, q);
        ["pending", "active", "scheduled", "retry"]
            .iter()
            .all(|k| x[k] == 0)
    })
}

#[test]
fn the_platform_queues_on_three_masters_work_end_to_end() {
    let set = ClusterSet::start();
    let ciq = ciq_for(
        &set.url(),
        &format!(
            "{CONFIG}[schedule.tick]\ntask = \"noop\"\nqueue = \"maintenance\"\nevery = \"1s\"\n"
        ),
    );
    // One task on each queue lands on that queue's own master.
    for q in QUEUES {
        let id = ciq.ok(&["enqueue", "noop", "--queue", q]);
        let owner = set.owner(q);
        let list = owner.cli(&["LRANGE", &keys::q(q).pending, "0", "-1"]);
        assert!(list.contains(id.trim()), "{q}'s task is on its master");
    }
    assert_eq!(
        ciq.ok(&["enqueue", "noop", "--queue", "default", "--count", "300"])
            .trim(),
        "300"
    );
    let unique = [
        "enqueue",
        "noop",
        "--queue",
        "test_execution",
        "--unique",
        "t:1",
    ];
    let first = ciq.ok(&unique);
    let again = ciq.run(&unique);
    assert!(again.status.success());
    assert_eq!(String::from_utf8_lossy(&again.stdout).trim(), first.trim());
    assert!(String::from_utf8_lossy(&again.stderr).contains("duplicate"));
    ciq.ok(&[
        "enqueue",
        "noop",
        "--queue",
        "maintenance",
        "--countdown",
        "1s",
    ]);
    let doomed = ciq.ok(&[
        "enqueue",
        "noop",
        "--queue",
        "default",
        "--arg",
        "fail=fail",
        "--unique",
        "d:1",
    ]);
    let doomed = doomed.trim().to_string();
    ciq.ok(&["pause", "maintenance"]);
    let d = ciq.depth_all();
    assert_eq!(queue(&d, "default")["pending"], 302, "{d}");
    assert_eq!(queue(&d, "test_execution")["pending"], 2, "{d}");
    assert_eq!(queue(&d, "maintenance")["scheduled"], 1, "{d}");
    assert_eq!(queue(&d, "maintenance")["paused"], true, "{d}");

    let mut workers = [spawn_worker(&ciq, "w0"), spawn_worker(&ciq, "w1")];
    let beats: Vec<Proc> = ["b1", "b2"]
        .iter()
        .map(|n| {
            let log = std::fs::File::create(ciq.dir().join(format!("{n}.log"))).unwrap();
            Proc(
                ciq.cmd(&["beat", "--name", n, "--lease", "1s", "--tick", "100ms"])
                    .stdout(std::process::Stdio::null())
                    .stderr(log)
                    .spawn()
                    .expect("spawn beat"),
            )
        })
        .collect();
    // Paused: maintenance keeps its task (and the beat's) while the others drain.
    assert!(
        wait(Duration::from_secs(30), || {
            let d = ciq.depth_all();
            queue(&d, "default")["pending"] == 0 && queue(&d, "test_execution")["pending"] == 0
        }),
        "default and test_execution drained: {}",
        ciq.depth_all()
    );
    assert!(queue(&ciq.depth_all(), "maintenance")["pending"].as_u64() >= Some(1));
    ciq.ok(&["resume", "maintenance"]);
    // enqueue --wait: the outcome message comes back through a blocking BLPOP.
    let w = ciq.run(&[
        "enqueue",
        "noop",
        "--queue",
        "test_execution",
        "--wait",
        "--timeout",
        "20s",
    ]);
    assert!(w.status.success(), "{}", String::from_utf8_lossy(&w.stderr));
    assert!(String::from_utf8_lossy(&w.stderr).contains("done"));
    std::thread::sleep(Duration::from_secs(4));
    let mut beats = beats;
    stop(&mut beats);
    assert!(
        wait(Duration::from_secs(30), || drained(&ciq)),
        "every queue drained: {}",
        ciq.depth_all()
    );

    // Two beats: each one-second tick fired once, each fire one task, each run once.
    let fires: Vec<serde_json::Value> = set
        .cli(&["LRANGE", &keys::beat_history("tick"), "0", "-1"])
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let times: HashSet<u64> = fires
        .iter()
        .map(|f| f["fire_ms"].as_u64().unwrap())
        .collect();
    let ids: HashSet<&str> = fires
        .iter()
        .map(|f| f["task_id"].as_str().unwrap())
        .collect();
    assert!(fires.len() >= 3, "beat fired: {fires:?}");
    assert_eq!(times.len(), fires.len(), "each tick once: {fires:?}");
    assert_eq!(ids.len(), fires.len(), "one task per fire: {fires:?}");
    let ran = runs(&ciq, &["w0", "w1"]);
    for id in &ids {
        assert_eq!(ran.get(*id), Some(&1), "fire task {id} ran once");
    }
    assert!(ran.values().all(|&n| n == 1), "no task ran twice");
    // Done: one per queue, 300 bulk, the unique one, the delayed one, the waited-for one,
    // the fires (the failing task's run is not a "task done").
    assert_eq!(ran.len(), 3 + 300 + 1 + 1 + 1 + fires.len());

    // The failed task is dead; inspect, requeue (it fails again) and purge it.
    let d = ciq.depth_all();
    assert_eq!(queue(&d, "default")["dead"], 1, "{d}");
    let t: serde_json::Value =
        serde_json::from_str(&ciq.ok(&["inspect", "task", &doomed, "--json"])).unwrap();
    assert_eq!(t["state"], "failed", "{t}");
    let t: serde_json::Value =
        serde_json::from_str(&ciq.ok(&["inspect", "task", first.trim(), "--json"])).unwrap();
    assert_eq!(t["state"], "done", "{t}");
    assert!(ciq
        .ok(&["inspect", "dead", "--queue", "default"])
        .contains(&doomed));
    ciq.ok(&["requeue", "--dead", "--all", "--queue", "default"]);
    assert!(
        wait(Duration::from_secs(20), || {
            let t: serde_json::Value =
                serde_json::from_str(&ciq.ok(&["inspect", "task", &doomed, "--json"])).unwrap();
            t["state"] == "failed" && t.to_string().contains("requeued")
        }),
        "the requeued task ran and died again"
    );
    stop(&mut workers);
    ciq.ok(&["purge", "default", "--state", "dead", "--yes"]);
    assert_eq!(queue(&ciq.depth_all(), "default")["dead"], 0);
    // Its unique key went with it: the same key enqueues anew.
    let fresh = ciq.ok(&["enqueue", "noop", "--queue", "default", "--unique", "d:1"]);
    assert_ne!(fresh.trim(), doomed);

    // A node without AOF is a warning, not a failure: status does not exit 3 for it (9
    // only when something else is CRITICAL).
    set.nodes[0].cli(&["CONFIG", "SET", "appendonly", "no"]);
    let st = ciq.run(&["status", "--json"]);
    let s: serde_json::Value = serde_json::from_slice(&st.stdout).unwrap();
    let problems = s["problems"].as_array().unwrap();
    let critical = problems.iter().any(|p| p["severity"] == "critical");
    assert_eq!(st.status.code(), Some(if critical { 9 } else { 0 }), "{s}");
    assert!(
        problems
            .iter()
            .any(|p| p["severity"] == "warning"
                && p["message"].to_string().contains("runs without AOF")),
        "{s}"
    );
    assert!(
        s["problems"].to_string().contains(&format!(
            "cluster node 127.0.0.1:{} runs without AOF",
            set.nodes[0].port
        )),
        "{s}"
    );
    assert_eq!(s["broker"]["cluster_state"], "ok", "{s}");
    let nodes = s["broker"]["nodes"].as_array().unwrap();
    assert_eq!(nodes.len(), 3, "{s}");
    assert!(
        nodes
            .iter()
            .all(|n| n["up"] == true && n["role"] == "master"),
        "{s}"
    );
    let listed: HashSet<&str> = s["queues"]
        .as_array()
        .unwrap()
        .iter()
        .map(|q| q["queue"].as_str().unwrap())
        .collect();
    assert_eq!(listed, QUEUES.into_iter().collect::<HashSet<_>>(), "{s}");
}

#[test]
fn a_slot_migration_mid_drain_loses_nothing() {
    let set = ClusterSet::start();
    let ciq = ciq_for(&set.url(), CONFIG);
    let n = 3000;
    ciq.ok(&[
        "enqueue",
        "noop",
        "--queue",
        "default",
        "--count",
        &n.to_string(),
        "--args-json",
        r#"{"sleep_ms": 2}"#,
    ]);
    // Unique keys too: their release on finish is a declared key that moves with the slot.
    for i in 0..100 {
        ciq.ok(&[
            "enqueue",
            "noop",
            "--queue",
            "default",
            "--unique",
            &format!("u:{i}"),
        ]);
    }
    let before = set.owner("default").port;
    let mut workers = [spawn_worker(&ciq, "w0"), spawn_worker(&ciq, "w1")];
    assert!(
        wait(Duration::from_secs(30), || runs(&ciq, &["w0", "w1"]).len()
            >= 500),
        "workers started draining"
    );
    let after = set.migrate_queue("default");
    assert_ne!(before, after);
    // The workers really met the moving slot: redirections and retries, per the servers.
    let redirects: u64 = set
        .nodes
        .iter()
        .flat_map(|n| {
            n.cli(&["INFO", "errorstats"])
                .lines()
                .filter(|l| {
                    ["errorstat_ASK:", "errorstat_MOVED:", "errorstat_TRYAGAIN:"]
                        .iter()
                        .any(|p| l.starts_with(p))
                })
                .filter_map(|l| l.split("count=").nth(1)?.trim().parse::<u64>().ok())
                .collect::<Vec<_>>()
        })
        .sum();
    eprintln!("ASK/MOVED/TRYAGAIN replies during the migration: {redirects}");
    assert!(redirects > 0, "the migration was met mid-drain");
    let all = wait(Duration::from_secs(120), || {
        runs(&ciq, &["w0", "w1"]).len() >= n + 100
    });
    let r = runs(&ciq, &["w0", "w1"]);
    let twice = r.values().filter(|&&c| c > 1).count();
    let d = ciq.depth_all();
    stop(&mut workers);
    eprintln!(
        "slot migration mid-drain: {} of {} ran, {twice} twice",
        r.len(),
        n + 100
    );
    assert!(
        all,
        "every task ran: {} of {}\n{}",
        r.len(),
        n + 100,
        ciq.log("w0")
    );
    let x = queue(&d, "default");
    for k in ["pending", "active", "scheduled", "retry", "dead"] {
        assert_eq!(x[k], 0, "{k}: {d}");
    }
    // Everything is on the new owner now, nothing left behind on the old one.
    let old = set.nodes.iter().find(|n| n.port == before).unwrap();
    let slot = super::cluster_servers::slot(old, "default").to_string();
    assert_eq!(
        old.cli(&["CLUSTER", "COUNTKEYSINSLOT", &slot]).trim(),
        "0",
        "keys of the queue left on the old owner: {}",
        old.cli(&["CLUSTER", "GETKEYSINSLOT", &slot, "10"])
    );
    assert!(
        twice == 0,
        "{twice} tasks ran twice (no lease expired, none should)"
    );
    let unique_left = set.cli(&["EXISTS", &keys::q("default").unique("u:1")]);
    assert_eq!(unique_left.trim(), "0", "unique keys released");
}

#[test]
fn status_names_a_cluster_node_that_is_down_and_exits_non_zero() {
    let mut set = ClusterSet::start();
    let ciq = ciq_for(&set.url(), CONFIG);
    for q in QUEUES {
        ciq.ok(&["enqueue", "noop", "--queue", q]);
    }
    let down = set.owner("maintenance").port;
    set.nodes
        .iter_mut()
        .find(|n| n.port == down)
        .unwrap()
        .kill9();
    let o = ciq.run(&["status"]);
    let text = String::from_utf8_lossy(&o.stdout);
    assert_eq!(o.status.code(), Some(3), "{text}");
    assert!(
        text.contains(&format!("cluster node 127.0.0.1:{down}")) && text.contains("unreachable"),
        "{text}"
    );
    assert!(text.contains("cannot read queue maintenance"), "{text}");
    assert!(
        text.lines()
            .any(|l| l.contains(&format!("127.0.0.1:{down} ")) && l.ends_with("DOWN")),
        "the node table marks it DOWN: {text}"
    );
    let o = ciq.run(&["status", "--json"]);
    assert_eq!(o.status.code(), Some(3));
    let s: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let n = s["broker"]["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|n| n["addr"] == format!("127.0.0.1:{down}"))
        .cloned()
        .unwrap();
    assert_eq!(n["up"], false, "{s}");
    // The queues on the masters that are up are still shown.
    let listed: Vec<&str> = s["queues"]
        .as_array()
        .unwrap()
        .iter()
        .map(|q| q["queue"].as_str().unwrap())
        .collect();
    assert!(
        listed.contains(&"default") && listed.contains(&"test_execution"),
        "{s}"
    );
    // depth: the readable queues on stdout, the unreadable one named on stderr, exit 3.
    let o = ciq.run(&["depth"]);
    assert_eq!(o.status.code(), Some(3));
    assert!(String::from_utf8_lossy(&o.stdout).contains("test_execution"));
    assert!(String::from_utf8_lossy(&o.stderr).contains("cannot read queue maintenance"));
}

#[test]
fn cluster_url_errors_are_one_line_without_the_password() {
    let err = depth_error("redis+cluster://u:s3cret@127.0.0.1:1/2", 2);
    assert!(
        !err.contains("s3cret") && err.contains("only database 0"),
        "{err}"
    );
    assert_eq!(err.trim().lines().count(), 1, "{err}");
    let port = free_port();
    let err = depth_error(&format!("redis+cluster://u:s3cret@127.0.0.1:{port}"), 3);
    assert!(!err.contains("s3cret"), "{err}");
}
