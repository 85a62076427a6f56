//! Time limits: the worker's hard limit, the exec runner's soft and hard limits, an http
//! runner timeout, each followed by a retry.

use crate::harness::via::lines;
use crate::harness::*;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Running (a zombie is not: a killed process whose parent died with it waits for init
/// to reap it).
fn alive(pid: u32) -> bool {
    crate::fencing::process_alive(pid as i32)
}

/// The worker's own hard limit ends a built-in task (which has no process to kill) and
/// counts as a failure under the retry policy.
#[test]
fn the_worker_hard_time_limit_ends_a_builtin_task_and_retries_it() {
    let redis = Redis::start();
    let ciq = Ciq::new(&redis);
    ciq.config(
        "[tasks.noop]\ntime_limit = \"500ms\"\nmax_retries = 1\nbackoff = \"50ms\"\nbackoff_max = \"50ms\"\n",
    );
    let t0 = Instant::now();
    let id = ciq
        .ok(&[
            "enqueue",
            "noop",
            "--args-json",
            r#"{"sleep_ms": 30000, "record": "ciq:bench:runs"}"#,
        ])
        .trim()
        .to_string();
    let mut w = ciq.spawn_worker("w", &[]);
    assert!(
        wait_until(Duration::from_secs(15), || ciq.depth("default")["dead"]
            == 1),
        "{}",
        ciq.log("w")
    );
    let took = t0.elapsed();
    assert!(
        took < Duration::from_secs(10),
        "two 500 ms attempts took {took:?}"
    );
    let d = &ciq.dead()[0];
    assert_eq!(d["id"], id.as_str());
    assert_eq!(d["attempt"], 2, "1 try + 1 retry: {d}");
    assert!(
        d["reason"].as_str().unwrap().contains("retries exhausted"),
        "{d}"
    );
    assert!(
        d["last_error"]
            .as_str()
            .unwrap()
            .contains("hard time limit (500ms) exceeded"),
        "{d}"
    );
    assert_eq!(redis.stat("default", "retried"), 1);
    assert_eq!(
        redis.int(&["LLEN", "ciq:bench:runs"]),
        0,
        "no run reached its end"
    );
    w.stop(Duration::from_secs(10));
}

/// exec: attempt 1 ignores SIGTERM and is killed at the hard limit; attempt 2 is
/// terminated at the soft limit; attempt 3 succeeds. Each limit counts as a retry.
#[test]
fn exec_soft_limit_terminates_hard_limit_kills_then_the_retry_succeeds() {
    let redis = Redis::start();
    let ciq = Ciq::new(&redis);
    ciq.exec_script_task(
        "slow",
        "max_retries = 2\nbackoff = \"50ms\"\nbackoff_max = \"50ms\"\nsoft_time_limit = \"500ms\"\ntime_limit = \"2s\"\n",
        r#"#!/bin/sh
echo "$CIQ_TASK_ID $$" >> "$DIR/starts"
case "$CIQ_ATTEMPT" in
  1) trap 'echo "$CIQ_TASK_ID $$" >> "$DIR/terms"' TERM; sleep 30; sleep 30 ;;
  2) trap 'echo "$CIQ_TASK_ID $$" >> "$DIR/terms"; exit 143' TERM; sleep 30 & wait $! ;;
esac
echo "$CIQ_TASK_ID $$" >> "$DIR/ends"
"#,
    );
    let t0 = Instant::now();
    let id = ciq.ok(&["enqueue", "slow"]).trim().to_string();
    let mut w = ciq.spawn_worker("w", &[]);
    assert!(
        wait_until(Duration::from_secs(20), || redis.stat("default", "done")
            == 1),
        "{}",
        ciq.log("w")
    );
    let took = t0.elapsed();
    let starts = lines(&ciq, "starts");
    let terms = lines(&ciq, "terms");
    let ends = lines(&ciq, "ends");
    assert_eq!(starts.len(), 3, "{starts:?}");
    assert!(starts.iter().all(|r| r.id == id));
    // Both limited attempts got SIGTERM at the soft limit; only the third reached its end.
    assert_eq!(
        terms.iter().map(|r| r.pid).collect::<Vec<_>>(),
        vec![starts[0].pid, starts[1].pid],
        "{terms:?}"
    );
    assert_eq!(
        ends.iter().map(|r| r.pid).collect::<Vec<_>>(),
        vec![starts[2].pid]
    );
    assert!(
        !alive(starts[0].pid),
        "the process that ignored SIGTERM was killed"
    );
    assert!(
        took < Duration::from_secs(15),
        "hard limit 2 s + soft 0.5 s took {took:?}"
    );
    assert_eq!(redis.stat("default", "retried"), 2);
    let log = ciq.log("w");
    assert!(log.contains("hard time limit"), "{log}");
    assert!(log.contains("soft time limit exceeded"), "{log}");
    assert_nothing_pending_active_or_dead(&ciq);
    w.stop(Duration::from_secs(10));
}

/// A loopback HTTP server: the first request gets no answer (the runner times out), the
/// rest get 200. Records `(task id, attempt)` of each request.
/// `(task id, attempt)` of each request the server saw.
type Seen = Arc<Mutex<Vec<(String, String)>>>;

fn flaky_server() -> (u16, Seen) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let seen = Arc::new(Mutex::new(vec![]));
    let s = seen.clone();
    std::thread::spawn(move || {
        let mut held = vec![];
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { break };
            let mut r = BufReader::new(stream.try_clone().unwrap());
            let (mut id, mut attempt, mut len) = (String::new(), String::new(), 0usize);
            loop {
                let mut line = String::new();
                if r.read_line(&mut line).unwrap_or(0) == 0 || line == "\r\n" {
                    break;
                }
                let l = line.to_ascii_lowercase();
                if let Some(v) = l.strip_prefix("x-ciq-task-id:") {
                    id = line[line.len() - v.len()..].trim().to_string();
                } else if let Some(v) = l.strip_prefix("x-ciq-attempt:") {
                    attempt = v.trim().to_string();
                } else if let Some(v) = l.strip_prefix("content-length:") {
                    len = v.trim().parse().unwrap_or(0);
                }
            }
            let mut body = vec![0; len];
            let _ = r.read_exact(&mut body);
            let first = {
                let mut g = s.lock().unwrap();
                g.push((id, attempt));
                g.len() == 1
            };
            if first {
                held.push(stream); // never answered
            } else {
                let _ = stream.write_all(
                    b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\nconnection: close\r\n\r\nok",
                );
            }
        }
    });
    (port, seen)
}

#[test]
fn http_timeout_is_retried_and_the_retry_succeeds() {
    let redis = Redis::start();
    let ciq = Ciq::new(&redis);
    let (port, seen) = flaky_server();
    ciq.config(&format!(
        "[tasks.hook]\nmax_retries = 2\nbackoff = \"50ms\"\nbackoff_max = \"50ms\"\nrunner = {{ http = \"http://127.0.0.1:{port}/hook\", timeout = \"500ms\" }}\n"
    ));
    let id = ciq
        .ok(&["enqueue", "hook", "--arg", "pr=7"])
        .trim()
        .to_string();
    let mut w = ciq.spawn_worker("w", &[]);
    assert!(
        wait_until(Duration::from_secs(15), || redis.stat("default", "done")
            == 1),
        "{}",
        ciq.log("w")
    );
    let seen = seen.lock().unwrap().clone();
    assert_eq!(
        seen,
        vec![(id.clone(), "1".to_string()), (id.clone(), "2".to_string())],
        "one timed-out attempt, then the retry"
    );
    assert_eq!(redis.stat("default", "retried"), 1);
    assert_nothing_pending_active_or_dead(&ciq);
    w.stop(Duration::from_secs(10));
}

/// The default queue has nothing pending, active or dead.
fn assert_nothing_pending_active_or_dead(ciq: &Ciq) {
    let d = ciq.depth("default");
    assert_eq!(
        (
            d["pending"].as_u64(),
            d["active"].as_u64(),
            d["dead"].as_u64()
        ),
        (Some(0), Some(0), Some(0))
    );
}
