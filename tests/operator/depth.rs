//! `ciq depth --check`: the monitoring exit codes.

use crate::harness::*;
use std::time::Duration;

#[test]
fn depth_check_returns_each_monitoring_code() {
    let redis = Redis::start();
    let ciq = Ciq::new(&redis);
    let code = |args: &[&str]| {
        let o = ciq.run(args);
        let line = String::from_utf8_lossy(&o.stdout).to_string();
        assert_eq!(line.lines().count(), 1, "one line: {line}");
        (o.status.code(), line)
    };
    let (c, l) = code(&["depth", "--check", "--warn", "2", "--crit", "4"]);
    assert_eq!(c, Some(0), "{l}");
    assert!(l.starts_with("CIQ OK - 0 pending"), "{l}");
    ciq.ok(&["enqueue", "noop", "--count", "2"]);
    let (c, l) = code(&["depth", "--check", "--warn", "2", "--crit", "4"]);
    assert_eq!(c, Some(1), "{l}");
    assert!(l.starts_with("CIQ WARNING - default has 2 pending"), "{l}");
    ciq.ok(&["enqueue", "noop", "--count", "2"]);
    let (c, l) = code(&["depth", "--check", "--warn", "2", "--crit", "4"]);
    assert_eq!(c, Some(2), "{l}");
    std::thread::sleep(Duration::from_millis(1100));
    let (c, l) = code(&["depth", "--check", "--warn", "100", "--max-age", "1s"]);
    assert_eq!(c, Some(2), "old pending is critical: {l}");
    let (c, l) = code(&[
        "--broker",
        "redis://127.0.0.1:1/0",
        "depth",
        "--check",
        "--warn",
        "1",
    ]);
    assert_eq!(c, Some(3), "{l}");
    assert!(l.starts_with("CIQ UNKNOWN - cannot reach Redis"), "{l}");
}
