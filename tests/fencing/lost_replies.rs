//! Lost replies (issue 10, point 10): an outcome write whose reply never arrived is
//! retried and recognised as already applied, not reported as a stolen task.

use super::stat;
use crate::harness::*;
use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// Runs per task id (the noop task's `record` list) beyond the first, summed.
fn extra_runs(redis: &Redis) -> usize {
    let mut per_task: BTreeMap<String, usize> = BTreeMap::new();
    for id in redis.cli(&["LRANGE", "ciq:bench:runs", "0", "-1"]).lines() {
        *per_task.entry(id.to_string()).or_default() += 1;
    }
    per_task.values().map(|c| c - 1).sum()
}

fn drain_setup(ciq: &Ciq, n: usize) {
    ciq.config("[tasks.noop]\nmax_retries = 100\n[worker]\nmax_deliveries = 200\n");
    ciq.ok(&[
        "enqueue",
        "noop",
        "--count",
        &n.to_string(),
        "--args-json",
        r#"{"record": "ciq:bench:runs"}"#,
    ]);
}

/// Workers log retried outcome writes at info and "already recorded" at debug.
const LOG: &str = "info,ciq::worker::finisher=debug";

/// No run reported superseded unless a task really ran again, and never the old
/// "another worker recovered the task" for a lost reply.
fn assert_no_false_theft(redis: &Redis, logs: &str) -> (usize, usize) {
    let extra = extra_runs(redis);
    let superseded = logs.matches("outcome refused").count() + logs.matches("lease lost").count();
    assert!(!logs.contains("another worker recovered"), "{logs}");
    // A superseded run may be reported twice: by its heartbeat and by its outcome.
    assert!(
        superseded <= 2 * extra,
        "{superseded} runs reported superseded but only {extra} re-ran"
    );
    (extra, superseded)
}

/// A loopback proxy to Redis that loses the reply of the first `drops` connections'
/// outcome writes (a `finish` call: it names both the retry and the superseded keys): it
/// forwards the command, then closes the connection instead of passing the reply on.
fn lossy_proxy(redis_port: u16, drops: usize) -> (u16, Arc<AtomicUsize>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let dropped = Arc::new(AtomicUsize::new(0));
    let d = dropped.clone();
    std::thread::spawn(move || {
        for c in listener.incoming() {
            let Ok(c) = c else { return };
            let Ok(s) = TcpStream::connect(("127.0.0.1", redis_port)) else {
                return;
            };
            let armed = Arc::new(AtomicBool::new(false));
            let (mut c_in, mut s_out) = (c.try_clone().unwrap(), s.try_clone().unwrap());
            let (a, d2) = (armed.clone(), d.clone());
            std::thread::spawn(move || {
                let mut buf = vec![0u8; 65536];
                while let Ok(n) = c_in.read(&mut buf) {
                    if n == 0 || s_out.write_all(&buf[..n]).is_err() {
                        break;
                    }
                    let chunk = String::from_utf8_lossy(&buf[..n]);
                    if chunk.contains("}:retry") && chunk.contains("}:superseded") {
                        if d2.fetch_add(1, Ordering::SeqCst) < drops {
                            a.store(true, Ordering::SeqCst);
                        } else {
                            d2.fetch_sub(1, Ordering::SeqCst);
                        }
                    }
                }
                let _ = s_out.shutdown(Shutdown::Both);
                let _ = c_in.shutdown(Shutdown::Both);
            });
            let (mut s_in, mut c_out) = (s, c);
            std::thread::spawn(move || {
                let mut buf = vec![0u8; 65536];
                while let Ok(n) = s_in.read(&mut buf) {
                    if n == 0 {
                        break;
                    }
                    if armed.load(Ordering::SeqCst) {
                        // Give Redis time to run the script, then lose its reply.
                        std::thread::sleep(Duration::from_millis(20));
                        break;
                    }
                    if c_out.write_all(&buf[..n]).is_err() {
                        break;
                    }
                }
                let _ = s_in.shutdown(Shutdown::Both);
                let _ = c_out.shutdown(Shutdown::Both);
            });
        }
    });
    (port, dropped)
}

/// Deterministic: the replies of 10 outcome writes are lost after Redis ran them. Each
/// retried write is recognised as already applied; nothing is reported as stolen.
#[test]
fn a_lost_outcome_reply_is_recognised_as_applied() {
    let redis = Redis::start();
    let mut ciq = Ciq::new(&redis);
    let n = 2000;
    drain_setup(&ciq, n);
    let (port, dropped) = lossy_proxy(redis.port, 10);
    ciq.broker = format!("redis://127.0.0.1:{port}/0");
    let mut ws: Vec<Proc> = ["w1", "w2"]
        .iter()
        .map(|name| {
            let log = std::fs::File::create(ciq.dir().join(format!("{name}.log"))).unwrap();
            ciq.cmd(&["work", "--name", name, "--concurrency", "32"])
                .env("CIQ_LOG", LOG)
                .env("CIQ_LEASE", "2s")
                .env("CIQ_HEARTBEAT", "500ms")
                .env("CIQ_SWEEP", "500ms")
                .stdout(std::process::Stdio::null())
                .stderr(log)
                .spawn()
                .map(Proc)
                .unwrap()
        })
        .collect();
    let drained = wait_until(Duration::from_secs(60), || stat(&redis, "done") >= n as i64);
    for w in ws.iter_mut() {
        sigterm(w);
        assert!(wait_exit(w, Duration::from_secs(15)).is_some());
    }
    let logs = ciq.log("w1") + &ciq.log("w2");
    assert!(drained, "drained: done {}; {logs}", stat(&redis, "done"));
    assert_eq!(stat(&redis, "done"), n as i64, "each outcome counted once");
    assert_eq!(
        dropped.load(Ordering::SeqCst),
        10,
        "the proxy lost 10 outcome replies"
    );
    let already = logs.matches("outcome was already recorded").count();
    assert!(
        already >= 1,
        "a retried write was recognised as applied: {logs}"
    );
    assert_no_false_theft(&redis, &logs);
}

/// Every client killed again and again for a few seconds while two workers drain.
#[test]
fn client_kill_loop_while_draining_reports_no_false_theft() {
    let redis = Redis::start();
    let ciq = Ciq::new(&redis);
    let n = 2000;
    drain_setup(&ciq, n);
    let mut ws = [
        ciq.spawn_worker("w1", &["--concurrency", "32"]),
        ciq.spawn_worker("w2", &["--concurrency", "32"]),
    ];
    for _ in 0..60 {
        redis.cli(&["CLIENT", "KILL", "TYPE", "normal"]);
        std::thread::sleep(Duration::from_millis(50));
    }
    let drained = wait_until(Duration::from_secs(60), || stat(&redis, "done") >= n as i64);
    for w in ws.iter_mut() {
        sigterm(w);
        assert!(wait_exit(w, Duration::from_secs(15)).is_some());
    }
    let logs = ciq.log("w1") + &ciq.log("w2");
    assert!(drained, "drained: done {}", stat(&redis, "done"));
    let (extra, superseded) = assert_no_false_theft(&redis, &logs);
    let retried = logs
        .matches("cannot record task outcomes; retrying")
        .count();
    eprintln!("{retried} retried outcome writes, {extra} extra runs, {superseded} superseded");
}
