//! Idle cost of a fleet: 20 idle workers × 3 queues, measured from INFO commandstats
//! (every command Redis executed, including those run inside scripts), on one Redis and
//! summed over the masters of a three-master cluster.

use super::cluster_servers::ClusterSet;
use super::servers::Node;
use crate::harness::*;
use std::time::Duration;

/// Sum of `calls=` over every command in INFO commandstats of one server.
fn calls(info: &str) -> u64 {
    info.lines()
        .filter_map(|l| l.split("calls=").nth(1))
        .filter_map(|r| r.split(',').next()?.parse::<u64>().ok())
        .sum()
}

/// Starts 20 workers at default knobs, lets them settle, and returns the idle commands
/// per second per worker-queue over a 30 s window (`total` reads every server's count);
/// `check` runs while the workers are still up.
fn idle_cost(
    ciq: &Ciq,
    total: &dyn Fn() -> u64,
    workers_registered: &dyn Fn() -> bool,
    check: &dyn Fn(),
) -> f64 {
    let mut workers: Vec<Proc> = (0..20)
        .map(|i| {
            let log = std::fs::File::create(ciq.dir().join(format!("w{i}.log"))).unwrap();
            Proc(
                ciq.cmd(&["work", "--name", &format!("w{i}")])
                    .stdout(std::process::Stdio::null())
                    .stderr(log)
                    .spawn()
                    .expect("spawn worker"),
            )
        })
        .collect();
    assert!(
        wait_until(Duration::from_secs(30), workers_registered),
        "20 workers registered"
    );
    // Let start-up (first claims, lease taking) settle, then measure a steady window.
    std::thread::sleep(Duration::from_secs(12));
    let window = Duration::from_secs(30);
    let before = total();
    std::thread::sleep(window);
    let after = total();
    check();
    stop_all(&mut workers, Duration::from_secs(10));
    // The INFO call that read `before` is counted in `after`: take it off.
    (after - before).saturating_sub(1) as f64 / window.as_secs_f64() / 60.0
}

const QUEUES: &str = "[queues]\ntest_execution = 6\ndefault = 3\nmaintenance = 1\n";

#[test]
fn twenty_idle_workers_on_three_queues_cost_under_half_a_command_per_second_each() {
    let redis = Redis::start();
    let ciq = Ciq::new(&redis);
    ciq.config(QUEUES);
    let per = idle_cost(
        &ciq,
        &|| calls(&redis.cli(&["INFO", "commandstats"])),
        &|| redis.int(&["HLEN", &keys::workers()]) == 20,
        &|| {
            // Each of the three queues' upkeep leases is held by exactly one worker.
            for q in ["test_execution", "default", "maintenance"] {
                let holder = redis.cli(&["GET", &keys::q(q).upkeep]);
                assert!(
                    holder.trim().starts_with('w'),
                    "{q} has an upkeep holder: {holder:?}"
                );
            }
        },
    );
    eprintln!("idle, one Redis: {per:.3} commands/s per worker-queue (20 workers x 3 queues)");
    assert!(per <= 0.5, "{per:.3} commands/s per idle worker-queue");
}

#[test]
fn on_a_cluster_twenty_idle_workers_cost_under_half_a_command_per_second_each() {
    let set = ClusterSet::start();
    let ciq = super::ciq_for(&set.url(), QUEUES);
    let nodes: &[Node] = &set.nodes;
    let per = idle_cost(
        &ciq,
        &|| {
            nodes
                .iter()
                .map(|n| calls(&n.cli(&["INFO", "commandstats"])))
                .sum::<u64>()
                // Each server counts its own INFO call: one per node, not the fleet's.
                - nodes.len() as u64
                + 1
        },
        &|| set.cli(&["HLEN", &keys::workers()]).trim() == "20",
        &|| {
            for q in ["test_execution", "default", "maintenance"] {
                let holder = set.cli(&["GET", &keys::q(q).upkeep]);
                assert!(
                    holder.trim().starts_with('w'),
                    "{q} has an upkeep holder: {holder:?}"
                );
            }
        },
    );
    eprintln!(
        "idle, three-master cluster: {per:.3} commands/s per worker-queue (20 workers x 3 queues)"
    );
    assert!(per <= 0.5, "{per:.3} commands/s per idle worker-queue");
}
