//! `GET /api/...`: the CLI's JSON, pagination with a cursor, search, bounded cost,
//! secrets redacted; /metrics; `up --web`; the overview's platform card.

use super::http::*;
use crate::harness::*;
use serde_json::Value;
use std::process::Stdio;

#[test]
fn api_queues_and_status_carry_the_same_values_as_the_cli_json() {
    let redis = Redis::start();
    let ciq = Ciq::new(&redis);
    ciq.config("[queues]\ndefault = 1\ntest_execution = 1\nmaintenance = 1\nother = 1\n");
    enqueue(&ciq, &["noop"]);
    enqueue(&ciq, &["noop", "--countdown", "5m"]);
    enqueue(&ciq, &["noop", "--queue", "other"]);
    let web = start(&ciq, &[]);
    let api = web.get_json("/api/queues");
    let cli: Value = serde_json::from_str(&ciq.ok(&["--json", "depth"])).unwrap();
    let strip = |v: &Value| -> Vec<Value> {
        v.as_array()
            .unwrap()
            .iter()
            .map(|d| {
                let mut d = d.clone();
                d.as_object_mut().unwrap().remove("oldest_pending_age_s");
                d
            })
            .collect()
    };
    assert_eq!(strip(&api), strip(&cli));
    let default = api
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["queue"] == "default")
        .unwrap();
    assert_eq!(
        (default["pending"].as_u64(), default["scheduled"].as_u64()),
        (Some(1), Some(1))
    );
    let st = web.get_json("/api/status");
    let cli_st: Value = serde_json::from_str(&String::from_utf8_lossy(
        &ciq.run(&["--json", "status"]).stdout,
    ))
    .unwrap();
    let keys = |v: &Value| v.as_object().unwrap().keys().cloned().collect::<Vec<_>>();
    assert_eq!(keys(&st), keys(&cli_st));
    assert!(st["problems"]
        .as_array()
        .unwrap()
        .iter()
        .any(|p| p["message"].as_str().unwrap().contains("no worker")));
}

#[test]
fn api_task_shows_the_history_the_dead_reason_and_redacts_secret_arguments() {
    let redis = Redis::start();
    let ciq = Ciq::new(&redis);
    let dead = dead_task(&ciq, &redis);
    // A message carrying a secret (as an older enqueuer could have written it).
    let env = r#"{"v":1,"id":"01SECRETTASK0000000000000A","task":"noop","queue":"default","args":{"api_token":"s3cr3t-value-xyz","n":1},"attempt":1,"max_retries":0,"enqueued_at":1700000000000}"#;
    redis.cli(&["LPUSH", &keys::q("default").pending, env]);
    let hist = format!(r#"{{"at":1700000000000,"ev":"enqueued","task":"noop","envelope":{env}}}"#);
    redis.cli(&[
        "HSET",
        &keys::q("default").history,
        "01SECRETTASK0000000000000A",
        &hist,
    ]);
    let web = start(&ciq, &[]);
    let t = web.get_json(&format!("/api/tasks/{dead}"));
    assert_eq!(t["state"], "failed");
    assert!(t["reason"].as_str().is_some_and(|r| !r.is_empty()), "{t}");
    assert!(
        t["last_error"]
            .as_str()
            .unwrap()
            .contains("noop asked to fail"),
        "{t}"
    );
    let evs = event_names(&t);
    assert_eq!(evs.first(), Some(&"enqueued"));
    assert!(
        evs.contains(&"claimed") && evs.last() == Some(&"failed"),
        "{evs:?}"
    );
    assert_eq!(t["args"]["build"], "linux-7");
    // Dead list: the reason is there too.
    let dl = web.get_json("/api/tasks?queue=default&state=dead");
    assert_eq!(dl["tasks"][0]["id"], dead.as_str());
    assert!(dl["tasks"][0]["error"]
        .as_str()
        .is_some_and(|e| !e.is_empty()));
    // The secret never leaves: not in the task, the list, a search or the page.
    for path in [
        "/api/tasks/01SECRETTASK0000000000000A".to_string(),
        "/api/tasks?queue=default&state=pending".to_string(),
        "/api/tasks?queue=default&state=pending&q=s3cr3t".to_string(),
    ] {
        let r = web.get(&path);
        assert_eq!(r.status, 200, "{path}");
        assert!(!r.body.contains("s3cr3t-value-xyz"), "{path}: {}", r.body);
    }
    let t = web.get_json("/api/tasks/01SECRETTASK0000000000000A");
    assert_eq!(t["args"]["api_token"], "***");
    assert_eq!(
        web.get_json("/api/tasks?queue=default&state=pending&q=s3cr3t")["tasks"]
            .as_array()
            .unwrap()
            .len(),
        0
    );
    let page = web.page("/tasks/01SECRETTASK0000000000000A");
    assert_eq!(page.status, 200);
    assert!(!page.body.contains("s3cr3t-value-xyz"));
    assert_eq!(web.get("/api/tasks/01NOSUCHTASK000000000000XX").status, 404);
}

fn ids(v: &Value) -> Vec<String> {
    v["tasks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["id"].as_str().unwrap().to_string())
        .collect()
}

#[test]
fn api_tasks_pages_through_a_queue_with_a_cursor_sorted_by_time() {
    let redis = Redis::start();
    let ciq = Ciq::new(&redis);
    for i in 0..7 {
        enqueue(&ciq, &["noop", "--arg", &format!("n={i}")]);
    }
    let web = start(&ciq, &[]);
    let mut seen = vec![];
    let mut times = vec![];
    let mut cursor = String::new();
    let mut pages = 0;
    loop {
        let p = web.get_json(&format!(
            "/api/tasks?queue=default&state=pending&limit=3&cursor={cursor}"
        ));
        assert_eq!(p["total"], 7);
        assert_eq!(p["order"], "oldest");
        seen.extend(ids(&p));
        times.extend(
            p["tasks"]
                .as_array()
                .unwrap()
                .iter()
                .map(|t| t["at_ms"].as_u64().unwrap()),
        );
        pages += 1;
        match p["next_cursor"].as_str() {
            Some(c) => cursor = c.to_string(),
            None => break,
        }
    }
    assert_eq!(pages, 3);
    assert_eq!(seen.len(), 7);
    let mut uniq = seen.clone();
    uniq.dedup();
    assert_eq!(uniq.len(), 7);
    assert!(times.windows(2).all(|w| w[0] <= w[1]), "{times:?}");
    // The first page holds n=0 (enqueued first); newest first reverses.
    let first = web.get_json("/api/tasks?queue=default&state=pending&limit=1");
    assert_eq!(first["tasks"][0]["args"]["n"], 0);
    let newest = web.get_json("/api/tasks?queue=default&state=pending&limit=1&order=newest");
    assert_eq!(newest["tasks"][0]["args"]["n"], 6);
    assert_eq!(web.get("/api/tasks?queue=default&state=bogus").status, 400);
    assert_eq!(web.get("/api/tasks?queue=default&cursor=x").status, 400);
    assert_eq!(web.get("/api/tasks?queue=a%7Bb%7D").status, 400);
}

#[test]
fn api_tasks_searches_by_id_unique_key_task_name_and_argument() {
    let redis = Redis::start();
    let ciq = Ciq::new(&redis);
    let a = enqueue(
        &ciq,
        &[
            "noop",
            "--unique",
            "start_test:4211",
            "--arg",
            "test_id=4211",
        ],
    );
    let b = enqueue(&ciq, &["noop", "--arg", "branch=feature-xyz"]);
    for _ in 0..5 {
        enqueue(&ciq, &["noop"]);
    }
    let web = start(&ciq, &[]);
    assert_eq!(
        ids(&web.get_json(&format!("/api/tasks?q={a}"))),
        vec![a.clone()]
    );
    assert_eq!(
        ids(&web.get_json("/api/tasks?q=start_test:4211")),
        vec![a.clone()]
    );
    assert_eq!(
        ids(&web.get_json("/api/tasks?queue=default&q=feature-xyz")),
        vec![b.clone()]
    );
    let by_name = web.get_json("/api/tasks?queue=default&q=noop&limit=100");
    assert_eq!(by_name["tasks"].as_array().unwrap().len(), 7);
    assert_eq!(by_name["scanned"], 7);
    assert!(ids(&web.get_json("/api/tasks?queue=default&q=nothing-like-this")).is_empty());
}

#[test]
fn api_workers_lists_a_live_worker_and_api_beat_lists_the_schedule() {
    let redis = Redis::start();
    let ciq = Ciq::new(&redis);
    ciq.config("[schedule.nightly]\ntask = \"noop\"\nevery = \"1h\"\n");
    let _w = ciq.spawn_worker("w-api", &["--queues", "default"]);
    let web = start(&ciq, &[]);
    assert!(wait_until(std::time::Duration::from_secs(10), || {
        web.get_json("/api/workers")
            .as_array()
            .is_some_and(|w| w.iter().any(|w| w["alive"] == true))
    }));
    let w = web.get_json("/api/workers");
    assert!(w[0]["id"].as_str().unwrap().contains("w-api"), "{w}");
    assert_eq!(w[0]["pid"], _w.id());
    let beat = web.get_json("/api/beat");
    assert_eq!(beat["periodic"][0]["name"], "nightly");
    assert!(beat["leader"].is_null());
}

#[test]
fn web_serves_prometheus_metrics_behind_the_token() {
    let redis = Redis::start();
    let ciq = Ciq::new(&redis);
    enqueue(&ciq, &["noop"]);
    let web = start(&ciq, &[]);
    assert_eq!(web.req("GET", "/metrics", &[], "").status, 401);
    let r = web.get("/metrics");
    assert_eq!(r.status, 200);
    assert!(r
        .header("content-type")
        .is_some_and(|c| c.starts_with("application/openmetrics-text")));
    assert!(r.body.ends_with("# EOF\n"), "{}", r.body);
    assert_eq!(r.body.matches("# EOF").count(), 1);
    assert!(
        r.body
            .contains("ciq_queue_depth{queue=\"default\",state=\"pending\"} 1"),
        "{}",
        r.body
    );
    assert!(r.body.contains("ciq_workers_alive 0"), "{}", r.body);
}

/// `ciq up --web ADDR` serves the dashboard beside its worker and beat, and says where.
#[test]
fn up_with_web_serves_the_dashboard_and_prints_its_url() {
    use std::io::{BufRead, BufReader};
    let redis = Redis::start_aof();
    let ciq = Ciq::new(&redis);
    std::fs::write(ciq.dir().join("web-token"), format!("{TOKEN}\n")).unwrap();
    let addr = format!("127.0.0.1:{}", free_port());
    let data = ciq.dir().join("data").display().to_string();
    let mut up = ciq.spawn(
        &[
            "up",
            "--data-dir",
            &data,
            "--web",
            &addr,
            "--web-token-file",
            "web-token",
        ],
        Stdio::null(),
        Stdio::piped(),
    );
    // Keep reading stderr (up logs there) so the pipe stays open.
    let err = up.0.stderr.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for l in BufReader::new(err).lines().map_while(Result::ok) {
            if l.contains("web dashboard at") {
                let _ = tx.send(l);
            }
        }
    });
    let line = rx
        .recv_timeout(std::time::Duration::from_secs(20))
        .expect("up names the dashboard's URL");
    assert!(
        line.contains(&format!("http://{addr}/?token={TOKEN}")),
        "{line}"
    );
    let web = Web {
        _proc: up,
        addr: addr.clone(),
        line,
    };
    assert!(wait_until(std::time::Duration::from_secs(20), || {
        web.get("/api/workers")
            .json()
            .as_array()
            .is_some_and(|w| w.iter().any(|w| w["alive"] == true))
    }));
    assert_eq!(web.req("GET", "/api/queues", &[], "").status, 401);
    // Read-only: actions are refused.
    let r = web.post_action(r#"{"action":"pause","queue":"default"}"#);
    assert_eq!(r.status, 403);
    // A bad --web address is refused before anything starts.
    let o = ciq.run(&["up", "--data-dir", &data, "--web", "0.0.0.0:1"]);
    assert_eq!(o.status.code(), Some(2));
}

#[test]
fn the_overview_shows_the_platform_mode_and_shadow_evidence_and_the_queue_page_toggles_order() {
    let redis = Redis::start();
    let ciq = Ciq::new(&redis);
    ciq.config("[platform]\nmode = \"shadow\"\n");
    enqueue(&ciq, &["noop"]);
    let web = start(&ciq, &[]);
    let page = web.page("/").body;
    let card = page
        .split("id=\"platform\"")
        .nth(1)
        .expect("a platform card");
    assert!(card.contains("<dd>shadow</dd>"), "{card}");
    assert!(card.contains("no shadow evidence"), "{card}");
    let q = web.page("/queues/default?state=pending").body;
    assert!(q.contains("order=newest"), "{q}");
    let q = web.page("/queues/default?state=dead").body;
    assert!(q.contains("order=oldest"), "{q}");
}

/// A task queued alone has no history record while it waits (issue 20): the web finds it
/// with bounded reads only, among the oldest pending messages or near the position its
/// pending list row links to (`?near=`), never by scanning a long queue.
#[test]
fn a_pending_task_without_a_record_is_found_by_a_bounded_read_near_where_the_list_shows_it() {
    let redis = Redis::start();
    let ciq = Ciq::new(&redis);
    ciq.enqueue_noops(2500, "{}");
    let deep = enqueue(&ciq, &["noop", "--arg", "n=deep"]);
    ciq.enqueue_noops(2500, "{}");
    let web = start(&ciq, &[]);

    // Not among the 2,000 oldest and no position given: not looked for further.
    assert_eq!(web.get(&format!("/api/tasks/{deep}")).status, 404);
    let t = web.get_json(&format!("/api/tasks/{deep}?near=2500"));
    assert_eq!(t["state"], "pending", "{t}");
    assert_eq!(t["args"]["n"], "deep", "{t}");
    assert_eq!(
        web.get(&format!("/api/tasks/{deep}?near=4900")).status,
        404,
        "2,400 away from where it is: outside the window"
    );

    // The pending list links its row with that position, oldest first and newest first.
    let oldest = web.page("/queues/default?state=pending&cursor=2490");
    assert!(
        oldest.body.contains(&format!("/tasks/{deep}?near=2500\"")),
        "{}",
        oldest.body
    );
    let newest = web.page("/queues/default?state=pending&order=newest&cursor=2490");
    assert!(
        newest.body.contains(&format!("/tasks/{deep}?near=2500\"")),
        "{}",
        newest.body
    );
    let page = web.page(&format!("/tasks/{deep}?near=2500"));
    assert_eq!(page.status, 200);
    assert!(page.body.contains("PENDING"), "{}", page.body);

    // The command line reads the whole list.
    let v: Value =
        serde_json::from_str(&ciq.ok(&["--json", "inspect", "task", &deep])).expect("json");
    assert_eq!(v["state"], "pending", "{v}");
}

/// A task that ended, was requeued and ended again is in the end list twice; the ended
/// list shows it once, at its last end.
#[test]
fn the_ended_list_shows_a_task_that_ended_twice_once_at_its_last_end() {
    let redis = Redis::start();
    let ciq = Ciq::new(&redis);
    let k = keys::q("default");
    let id = enqueue(&ciq, &["noop", "--arg", "fail=fail"]);
    let mut w = ciq.spawn_worker("w", &["--queues", "default"]);
    let dead = |n: i64| {
        wait_until(std::time::Duration::from_secs(15), || {
            redis.int(&["ZCARD", &k.dead]) == 1 && redis.int(&["LLEN", &k.history_ends]) == n
        })
    };
    assert!(dead(1), "the task dies once");
    ciq.ok(&["requeue", &id]);
    assert!(dead(2), "and again");
    w.stop(std::time::Duration::from_secs(10));
    let web = start(&ciq, &[]);
    let p = web.get_json("/api/tasks?queue=default&state=ended");
    assert_eq!(ids(&p), vec![id], "{p}");
    let last_end = redis.list(&k.history_ends)[1].clone();
    assert_eq!(
        p["tasks"][0]["at_ms"].to_string(),
        last_end.split('|').next().unwrap(),
        "{p}"
    );
}
