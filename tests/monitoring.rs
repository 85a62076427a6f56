//! The shipped monitoring kit (contrib/monitoring): the alert rules and the Grafana
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

#[test]
fn alert_rules_and_dashboard_load_and_name_only_exported_metrics() {
    let rules: RuleFile = serde_yaml::from_str(&kit("ciq-alerts.yml")).expect("rules parse");
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
    for n in &names {
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
