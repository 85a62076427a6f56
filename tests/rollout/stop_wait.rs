//! A rollback that stops a worker in the middle of a platform start: the stop lets the
//! start finish and says, live, what it waits for; `--force` (or Ctrl-C twice, in
//! wizard.rs) cuts it and the start goes back to the queue. The stand-in systemctl stops
//! a real `ciq work` as systemd would (SIGTERM, then wait), and `systemctl kill` sends it
//! a second SIGTERM.

use super::*;
use crate::harness::{wait_exit, wait_until, Proc};
use std::time::{Duration, Instant};

/// Stage 3, with a real worker behind the stand-in's ciq-worker unit, running a platform
/// start: a bridge that holds until the file `sim/release` exists.
pub fn worker_holding_a_start(rig: &Rig) -> Proc {
    let sim = rig.p("sim").display().to_string();
    let bridge = rig.p("bin/held_bridge.sh");
    write_exec(
        &bridge,
        &format!(
            "#!/bin/sh\ntouch '{sim}/start-began'\n\
             while [ ! -e '{sim}/release' ]; do sleep 0.1; done\n\
             echo '{{\"result\":\"started\"}}'\n"
        ),
    );
    rig.write_config(&format!(
        "[platform]\nmode = \"active\"\npython = \"/bin/sh\"\nbridge = \"{}\"\n",
        bridge.display()
    ));
    rig.to_stage_3();
    let w = rig.ciq.spawn_worker("w1", &["--shutdown-timeout", "1s"]);
    std::fs::create_dir_all(rig.p("sim/pid")).unwrap();
    std::fs::write(rig.p("sim/pid/ciq-worker"), w.id().to_string()).unwrap();
    rig.ok(&["enqueue", "start_test", "--arg", "test_id=7"]);
    assert!(
        wait_until(Duration::from_secs(30), || rig
            .p("sim/start-began")
            .exists()),
        "the start began; {}",
        rig.ciq.log("w1")
    );
    w
}

fn pending(rig: &Rig) -> i64 {
    rig.redis.int(&["LLEN", &keys::q("test_execution").pending])
}

#[test]
fn rollback_waits_for_a_platform_start_and_says_what_the_worker_waits_for() {
    let rig = Rig::new(Cron::File);
    let mut w = worker_holding_a_start(&rig);
    let rollback = rig
        .ciq
        .cmd(&["rollback", "--yes"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // The worker says it is stopping, in its registry entry, well before its 1 s
    // shutdown timeout would have cut an ordinary task.
    assert!(
        wait_until(Duration::from_secs(15), || {
            let info = rig.redis.cli(&["HGETALL", &keys::workers()]);
            info.contains("\"waiting_for\":[{") && info.contains("start_test")
        }),
        "the stopping worker publishes what it waits for"
    );
    std::thread::sleep(Duration::from_secs(3));
    assert!(
        w.try_wait().unwrap().is_none(),
        "past its 1 s shutdown timeout, the worker still lets the start finish"
    );
    std::fs::write(rig.p("sim/release"), "").unwrap();
    let out = rollback.wait_with_output().unwrap();
    let all = text_expecting(&out, 0);
    assert!(
        all.contains("ciq-worker is stopping: waiting for start_test test 7 on w1@"),
        "the rollback shows what the worker waits for: {all}"
    );
    assert!(
        all.contains("a platform start is waited for up to 600 s"),
        "{all}"
    );
    assert!(!all.contains("cutting"), "nothing was cut: {all}");
    assert!(wait_exit(&mut w, Duration::from_secs(10)).is_some_and(|s| s.success()));
    assert!(
        !rig.mutations().iter().any(|m| m.starts_with("kill")),
        "no second signal: {:?}",
        rig.mutations()
    );
    assert_eq!(
        pending(&rig),
        0,
        "the start finished: nothing back in the queue"
    );
    assert!(
        rig.ciq.log("w1").contains("start_test settled"),
        "{}",
        rig.ciq.log("w1")
    );
    rig.assert_stage(0);
}

#[test]
fn rollback_force_cuts_a_platform_start_and_returns_it_to_the_queue() {
    let rig = Rig::new(Cron::File);
    let mut w = worker_holding_a_start(&rig);
    let began = Instant::now();
    let out = rig.run(&["rollback", "--yes", "--force"]);
    let took = began.elapsed();
    let all = text_expecting(&out, 0);
    assert!(
        all.contains("--force: stopping the worker cuts them"),
        "the plan says the start will be cut: {all}"
    );
    assert!(
        all.contains("cutting: a second SIGTERM to ciq-worker"),
        "{all}"
    );
    assert!(
        took < Duration::from_secs(30),
        "the start was cut, not waited for: {took:?}; {all}"
    );
    assert!(
        rig.mutations()
            .contains(&"kill --kill-who=main --signal=SIGTERM ciq-worker".to_string()),
        "{:?}",
        rig.mutations()
    );
    let st = wait_exit(&mut w, Duration::from_secs(10));
    assert!(st.is_some(), "the worker ended");
    assert_eq!(
        pending(&rig),
        1,
        "the cut start is back in the queue; {}",
        rig.ciq.log("w1")
    );
    assert!(!rig.p("sim/release").exists());
    rig.assert_stage(0);
}
