//! Actions: read-only by default (403), the confirm step's CSRF token, bearer actions,
//! and the audit log.

use super::http::*;
use crate::harness::*;
use serde_json::Value;

#[test]
fn actions_are_refused_with_403_unless_allowed() {
    let redis = Redis::start();
    let ciq = Ciq::new(&redis);
    let web = start(&ciq, &[]);
    let r = web.post_action(r#"{"action":"pause","queue":"default"}"#);
    assert_eq!(r.status, 403);
    assert_eq!(
        web.page("/actions/confirm?action=pause&queue=default")
            .status,
        403
    );
    assert_eq!(redis.int(&["EXISTS", &keys::q("default").paused]), 0);
    assert!(!web.page("/").body.contains("/actions/confirm"));
}

#[test]
fn a_page_action_needs_the_csrf_token_of_its_confirm_step_and_is_audited() {
    let redis = Redis::start();
    let ciq = Ciq::new(&redis);
    enqueue(&ciq, &["noop"]);
    let web = start(&ciq, &["--allow-actions", "--audit-log", "audit.jsonl"]);
    let cookie = format!("ciq_token={TOKEN}");
    let form = [
        ("Cookie", cookie.as_str()),
        ("Content-Type", "application/x-www-form-urlencoded"),
    ];
    // No token, a wrong token: 403, nothing changes.
    assert_eq!(
        web.req("POST", "/actions", &form, "action=pause&queue=default")
            .status,
        403
    );
    assert_eq!(
        web.req(
            "POST",
            "/actions",
            &form,
            "action=pause&queue=default&csrf=nope"
        )
        .status,
        403
    );
    assert_eq!(redis.int(&["EXISTS", &keys::q("default").paused]), 0);
    // The confirm page carries the token.
    let confirm = web.page("/actions/confirm?action=pause&queue=default");
    assert_eq!(confirm.status, 200);
    let csrf = confirm
        .body
        .split("name=\"csrf\" value=\"")
        .nth(1)
        .unwrap()
        .split('"')
        .next()
        .unwrap()
        .to_string();
    let r = web.req(
        "POST",
        "/actions",
        &form,
        &format!("action=pause&queue=default&csrf={csrf}"),
    );
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(redis.int(&["EXISTS", &keys::q("default").paused]), 1);
    // A cookie session on the JSON API needs the header too.
    let j = [
        ("Cookie", cookie.as_str()),
        ("Content-Type", "application/json"),
    ];
    assert_eq!(
        web.req(
            "POST",
            "/api/actions",
            &j,
            r#"{"action":"resume","queue":"default"}"#
        )
        .status,
        403
    );
    let jh = [
        ("Cookie", cookie.as_str()),
        ("Content-Type", "application/json"),
        ("X-CSRF-Token", csrf.as_str()),
    ];
    assert_eq!(
        web.req(
            "POST",
            "/api/actions",
            &jh,
            r#"{"action":"resume","queue":"default"}"#
        )
        .status,
        200
    );
    assert_eq!(redis.int(&["EXISTS", &keys::q("default").paused]), 0);
    let log = std::fs::read_to_string(ciq.dir().join("audit.jsonl")).unwrap();
    let lines: Vec<Value> = log
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 2, "{log}");
    assert_eq!(lines[0]["action"]["action"], "pause");
    assert_eq!(lines[0]["via"], "page");
    assert_eq!(lines[1]["action"]["action"], "resume");
    assert_eq!(lines[1]["ok"], true);
    assert!(!log.contains(TOKEN) && !log.contains(&csrf));
}

#[test]
fn bearer_actions_requeue_purge_and_cancel_and_are_audited() {
    let redis = Redis::start();
    let ciq = Ciq::new(&redis);
    ciq.config("[queues]\ndefault = 1\ntest_execution = 1\nmaintenance = 1\nbulk = 1\n");
    let dead = dead_task(&ciq, &redis);
    redis.cli(&["SET", &keys::q("default").paused, "1"]); // keep the worker off what follows
    let later = enqueue(&ciq, &["noop", "--countdown", "10m"]);
    enqueue(&ciq, &["noop", "--queue", "bulk"]);
    enqueue(&ciq, &["noop", "--queue", "bulk"]);
    let web = start(&ciq, &["--allow-actions", "--audit-log", "audit.jsonl"]);
    let post = |body: &str| web.post_action(body);
    let r = post(&format!(
        r#"{{"action":"cancel","queue":"default","id":"{later}"}}"#
    ));
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(redis.int(&["ZCARD", &keys::q("default").scheduled]), 0);
    let r = post(r#"{"action":"requeue","queue":"default"}"#);
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(redis.int(&["ZCARD", &keys::q("default").dead]), 0);
    assert_eq!(redis.int(&["LLEN", &keys::q("default").pending]), 1);
    let r = post(r#"{"action":"purge","queue":"bulk","state":"pending"}"#);
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(redis.int(&["LLEN", &keys::q("bulk").pending]), 0);
    assert_eq!(post(r#"{"action":"purge","queue":"bulk"}"#).status, 400);
    assert_eq!(
        post(&format!(
            r#"{{"action":"cancel","queue":"default","id":"{dead}x"}}"#
        ))
        .status,
        404
    );
    let log = std::fs::read_to_string(ciq.dir().join("audit.jsonl")).unwrap();
    assert_eq!(log.lines().count(), 5, "{log}");
}
