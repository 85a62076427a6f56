//! Metrics: a worker's `/metrics` serves Prometheus text, beat and `up` serve theirs, and
//! the shipped monitoring kit (contrib/monitoring): the alert rules and the Grafana
//! dashboard load into the test's own types (promtool is not available from the
//! registries we reach, so this is the schema check), and every metric they name is in
//! a worker's `/metrics`, with the values the "no worker" and "no beat leader" alerts read.

use crate::harness::*;
use serde::Deserialize;
use std::collections::BTreeSet;
use std::time::Duration;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RuleFile {
    groups: Vec<Group>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Group {
    name: String,
    rules: Vec<Rule>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Rule {
    alert: String,
    expr: String,
    #[serde(rename = "for")]
    for_: String,
    labels: std::collections::BTreeMap<String, String>,
    annotations: std::collections::BTreeMap<String, String>,
}

#[derive(Debug, Deserialize)]
struct Dashboard {
    title: String,
    uid: String,
    panels: Vec<Panel>,
}

#[derive(Debug, Deserialize)]
struct Panel {
    title: String,
    #[serde(rename = "type")]
    kind: String,
    targets: Vec<Target>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Target {
    expr: String,
    ref_id: String,
}

fn kit(name: &str) -> String {
    let p = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("contrib/monitoring")
        .join(name);
    std::fs::read_to_string(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

/// Every `ciq_*` identifier in a PromQL expression.
fn metric_names(expr: &str) -> Vec<String> {
    let mut out = vec![];
    let b = expr.as_bytes();
    let mut i = 0;
    while let Some(off) = expr[i..].find("ciq_") {
        let start = i + off;
        let mut end = start;
        while end < b.len() && (b[end].is_ascii_alphanumeric() || b[end] == b'_') {
            end += 1;
        }
        if start == 0 || !(b[start - 1].is_ascii_alphanumeric() || b[start - 1] == b'_') {
            out.push(expr[start..end].to_string());
        }
        i = end;
    }
    out
}

fn durations_parse(s: &str) -> bool {
    let (n, unit) = s.split_at(s.len() - 1);
    n.parse::<u64>().is_ok() && ["s", "m", "h"].contains(&unit)
}

/// Every metric the alert rules and the dashboard name, after checking both load.
fn kit_metric_names() -> BTreeSet<String> {
    let rules: RuleFile = yaml_serde::from_str(&kit("ciq-alerts.yml")).expect("rules parse");
    let dash: Dashboard = serde_json::from_str(&kit("ciq-grafana.json")).expect("dashboard parses");
    let mut names = BTreeSet::new();
    let mut alerts = BTreeSet::new();
    for g in &rules.groups {
        assert!(!g.name.is_empty());
        for r in &g.rules {
            assert!(durations_parse(&r.for_), "{}: for {:?}", r.alert, r.for_);
            assert!(["warning", "critical"].contains(&r.labels["severity"].as_str()));
            assert!(r.annotations.contains_key("summary"), "{}", r.alert);
            assert_eq!(
                r.expr.matches('(').count(),
                r.expr.matches(')').count(),
                "{}",
                r.expr
            );
            alerts.insert(r.alert.clone());
            names.extend(metric_names(&r.expr));
        }
    }
    for want in [
        "CiqDeadTasksRising",
        "CiqOldestPendingTooOld",
        "CiqNoWorker",
        "CiqNoBeatLeader",
    ] {
        assert!(alerts.contains(want), "{want} missing");
    }
    assert_eq!(dash.title, "ciq");
    assert!(!dash.uid.is_empty());
    for p in &dash.panels {
        assert!(
            ["stat", "timeseries"].contains(&p.kind.as_str()),
            "{}",
            p.title
        );
        assert!(!p.targets.is_empty(), "{}", p.title);
        for t in &p.targets {
            assert!(!t.ref_id.is_empty());
            assert_eq!(
                t.expr.matches('(').count(),
                t.expr.matches(')').count(),
                "{}",
                t.expr
            );
            names.extend(metric_names(&t.expr));
        }
    }
    assert!(names.len() >= 8, "{names:?}");
    names
}

/// Exported only by a beat (`ciq beat`, `ciq up`); `ciq_beat_leader` is cluster-wide.
fn beat_only(name: &str) -> bool {
    name.starts_with("ciq_beat_") && name != "ciq_beat_leader"
}

fn scrape(addr: &str) -> String {
    use std::io::{Read, Write};
    let mut body = String::new();
    if let Ok(mut s) = std::net::TcpStream::connect(addr) {
        let _ = s.write_all(b"GET /metrics HTTP/1.0\r\n\r\n");
        let _ = s.read_to_string(&mut body);
    }
    body
}

fn exported(body: &str) -> BTreeSet<&str> {
    body.lines()
        .filter(|l| l.starts_with("ciq_"))
        .map(|l| l.split(['{', ' ']).next().unwrap())
        .collect()
}

#[test]
fn alert_rules_and_dashboard_load_and_name_only_exported_metrics() {
    let names = kit_metric_names();
    // A worker that ran a task, failed one and sees a paused queue and a beat leader.
    use std::io::{Read, Write};
    let redis = Redis::start();
    let ciq = Ciq::new(&redis);
    let addr = format!("127.0.0.1:{}", free_port());
    let _w = ciq.spawn_worker("w", &["--queues", "default", "--metrics-addr", &addr]);
    ciq.ok(&["pause", "maintenance"]);
    ciq.ok(&["enqueue", "noop"]);
    ciq.ok(&["enqueue", "noop", "--arg", "fail=fail"]);
    let mut body = String::new();
    let fetch = |body: &mut String| {
        body.clear();
        if let Ok(mut s) = std::net::TcpStream::connect(&addr) {
            let _ = s.write_all(b"GET /metrics HTTP/1.0\r\n\r\n");
            let _ = s.read_to_string(body);
        }
    };
    assert!(
        wait_until(Duration::from_secs(15), || {
            fetch(&mut body);
            body.contains("outcome=\"failed\"")
        }),
        "{body}"
    );
    let exported: BTreeSet<&str> = body
        .lines()
        .filter(|l| l.starts_with("ciq_"))
        .map(|l| l.split(['{', ' ']).next().unwrap())
        .collect();
    for n in names.iter().filter(|n| !beat_only(n)) {
        assert!(
            exported.contains(n.as_str()),
            "{n} is not in /metrics:\n{body}"
        );
    }
    assert!(body.contains("ciq_workers_alive 1"), "{body}");
    assert!(body.contains("ciq_beat_leader 0"), "{body}");
    let _beat = crate::beat::spawn_beat(&ciq, "b", "2s");
    assert!(
        wait_until(Duration::from_secs(15), || {
            fetch(&mut body);
            body.contains("ciq_beat_leader 1")
        }),
        "{body}"
    );
}

/// `ciq beat --metrics-addr` (and `[beat] metrics_addr`) serves the beat's metrics and the
/// cluster gauges; the leader counts its fires, the standby none.
#[test]
fn beat_serves_its_metrics() {
    let names = kit_metric_names();
    let redis = Redis::start();
    let ciq = Ciq::new(&redis);
    let (a, b) = (
        format!("127.0.0.1:{}", free_port()),
        format!("127.0.0.1:{}", free_port()),
    );
    ciq.config(&format!(
        "[schedule.tick]\ntask = \"noop\"\nevery = \"1s\"\n[beat]\nmetrics_addr = \"{b}\"\n"
    ));
    let show = ciq.ok(&["config", "show"]);
    assert!(
        show.lines()
            .any(|l| l.contains("beat.metrics_addr") && l.contains(&b) && l.contains("file")),
        "{show}"
    );
    let spawn = |name: &str, extra: &[&str]| {
        let mut args = vec!["beat", "--name", name, "--lease", "2s", "--tick", "100ms"];
        args.extend_from_slice(extra);
        ciq.cmd(&args)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .map(Proc)
            .expect("spawn beat")
    };
    let _leader = spawn("first", &["--metrics-addr", &a]);
    let mut body = String::new();
    assert!(
        wait_until(Duration::from_secs(15), || {
            body = scrape(&a);
            body.contains("ciq_beat_fires_total{entry=\"tick\"} 2")
        }),
        "the leader's fires are counted:\n{body}"
    );
    let _standby = spawn("second", &[]);
    let mut standby = String::new();
    assert!(
        wait_until(Duration::from_secs(15), || {
            standby = scrape(&b);
            standby.contains("ciq_beat_is_leader 0")
        }),
        "the standby serves on [beat] metrics_addr:\n{standby}"
    );
    body = scrape(&a);
    assert!(body.contains("ciq_beat_is_leader 1"), "{body}");
    assert!(body.contains("ciq_beat_leader 1"), "{body}");
    assert!(
        standby.contains("ciq_beat_fires_total{entry=\"tick\"} 0"),
        "{standby}"
    );
    for body in [&body, &standby] {
        for l in ["last", "next"] {
            let line = body
                .lines()
                .find(|x| {
                    x.starts_with(&format!(
                        "ciq_beat_{l}_fire_timestamp_seconds{{entry=\"tick\"}} "
                    ))
                })
                .unwrap_or_else(|| panic!("{l} fire time missing:\n{body}"));
            let t: f64 = line.rsplit(' ').next().unwrap().parse().unwrap();
            let now = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_secs_f64();
            assert!((t - now).abs() < 30.0, "{line} (now {now})");
        }
        assert!(
            body.contains("ciq_beat_entry_consecutive_failures{entry=\"tick\"} 0"),
            "{body}"
        );
        let have = exported(body);
        for n in names.iter().filter(|n| {
            beat_only(n) || n.starts_with("ciq_queue_") || n.as_str() == "ciq_beat_leader"
        }) {
            assert!(
                have.contains(n.as_str()),
                "{n} is not in the beat's /metrics:\n{body}"
            );
        }
    }
    // A taken address is an error at start, not a beat without metrics.
    let mut taken = spawn("third", &["--metrics-addr", &a]);
    let st = wait_exit(&mut taken, Duration::from_secs(10)).expect("exits");
    assert!(!st.success());
}

/// `ciq up --metrics-addr` serves one endpoint with the worker's and the beat's metrics:
/// every metric the kit names.
#[test]
fn up_serves_worker_and_beat_metrics() {
    let names = kit_metric_names();
    let redis = Redis::start_aof();
    let ciq = Ciq::new(&redis);
    ciq.config("[schedule.tick]\ntask = \"noop\"\nevery = \"1s\"\n");
    let addr = format!("127.0.0.1:{}", free_port());
    let data = ciq.dir().join("data");
    let _up = ciq
        .cmd(&[
            "up",
            "--data-dir",
            &data.display().to_string(),
            "--metrics-addr",
            &addr,
        ])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .map(Proc)
        .expect("spawn ciq up");
    let mut body = String::new();
    assert!(
        wait_until(Duration::from_secs(20), || {
            body = scrape(&addr);
            body.contains("ciq_tasks_total{task=\"noop\"") && body.contains("ciq_beat_is_leader 1")
        }),
        "{body}"
    );
    let have = exported(&body);
    for n in &names {
        assert!(
            have.contains(n.as_str()),
            "{n} is not in up's /metrics:\n{body}"
        );
    }
}

#[test]
fn metrics_endpoint_serves_prometheus_text() {
    use std::io::{Read, Write};
    let redis = Redis::start();
    let ciq = Ciq::new(&redis);
    let port = free_port();
    let addr = format!("127.0.0.1:{port}");
    let mut w = ciq.spawn_worker("w", &["--metrics-addr", &addr]);
    ciq.ok(&[
        "enqueue",
        "noop",
        "--count",
        "3",
        "--arg",
        "incr=ciq:bench:done",
    ]);
    ciq.ok(&["enqueue", "noop", "--arg", "fail=fail"]);
    assert!(wait_until(Duration::from_secs(10), || redis
        .int(&["GET", "ciq:bench:done"])
        == 3));
    let mut body = String::new();
    assert!(wait_until(Duration::from_secs(5), || {
        body.clear();
        let Ok(mut s) = std::net::TcpStream::connect(&addr) else {
            return false;
        };
        let _ = s.write_all(b"GET /metrics HTTP/1.0\r\n\r\n");
        let _ = s.read_to_string(&mut body);
        body.contains("outcome=\"failed\"")
    }));
    assert!(
        body.contains("ciq_tasks_total{task=\"noop\",queue=\"default\",outcome=\"done\"} 3"),
        "{body}"
    );
    assert!(
        body.contains("ciq_task_runtime_seconds_count{task=\"noop\",queue=\"default\"} 4"),
        "{body}"
    );
    assert!(
        body.contains("ciq_queue_depth{queue=\"default\",state=\"dead\"} 1"),
        "{body}"
    );
    assert!(body.contains("ciq_tasks_in_flight 0"), "{body}");
    w.stop(Duration::from_secs(10));
}
