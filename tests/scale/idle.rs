//! Idle cost of a fleet: 20 idle workers × 3 queues, measured from INFO commandstats
//! (every command Redis executed, including those run inside scripts).

use crate::harness::*;
use std::time::Duration;

/// Sum of `calls=` over every command in INFO commandstats.
fn total_calls(redis: &Redis) -> u64 {
    redis
        .cli(&["INFO", "commandstats"])
        .lines()
        .filter_map(|l| l.split("calls=").nth(1))
        .filter_map(|r| r.split(',').next()?.parse::<u64>().ok())
        .sum()
}

#[test]
fn twenty_idle_workers_on_three_queues_cost_under_half_a_command_per_second_each() {
    let redis = Redis::start();
    let ciq = Ciq::new(&redis);
    ciq.config("[queues]\ntest_execution = 6\ndefault = 3\nmaintenance = 1\n");
    // Default timing knobs: what an operator's fleet runs.
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
        wait_until(Duration::from_secs(20), || redis
            .int(&["HLEN", "ciq:workers"])
            == 20),
        "20 workers registered"
    );
    // Let start-up (first claims, lease taking) settle, then measure a steady window.
    std::thread::sleep(Duration::from_secs(12));
    let window = Duration::from_secs(30);
    let before = total_calls(&redis);
    std::thread::sleep(window);
    let after = total_calls(&redis);
    let per = (after - before).saturating_sub(1) as f64 / window.as_secs_f64() / 60.0;
    eprintln!(
        "idle: {} commands in {window:?} for 20 workers x 3 queues = {per:.3}/s per worker-queue",
        after - before
    );
    // Each of the three queues' upkeep leases is held by exactly one worker.
    for q in ["test_execution", "default", "maintenance"] {
        let holder = redis.cli(&["GET", &format!("ciq:{{{q}}}:upkeep")]);
        assert!(
            holder.trim().starts_with('w'),
            "{q} has an upkeep holder: {holder:?}"
        );
    }
    assert!(per <= 0.5, "{per:.3} commands/s per idle worker-queue");
    for w in &mut workers {
        sigterm(w);
    }
    for w in &mut workers {
        wait_exit(w, Duration::from_secs(10));
    }
}
