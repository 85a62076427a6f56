//! Server-rendered pages, each built from the same JSON the API returns: overview,
//! a queue's tasks, one task, workers, beat. Overview, workers and beat reload every
//! few seconds by themselves (a meta refresh: no script needed).

use super::html::{action_button, error_page, esc, page, s, url};
use super::{list, AppState};
use crate::output;
use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Response};
use serde_json::Value;
use std::fmt::Write;

const REFRESH_S: u32 = 5;

pub async fn overview(State(app): State<AppState>) -> Response {
    let st = app.source.status().await;
    let mut b = String::from("<h1>Overview</h1>");
    b.push_str("<div class=\"card\"><h2>Problems</h2>");
    let problems = st["problems"].as_array().cloned().unwrap_or_default();
    if problems.is_empty() {
        b.push_str("<p class=\"ok\">OK: no problems</p>");
    }
    for p in &problems {
        let sev = s(p, "severity");
        let _ = write!(
            b,
            "<div class=\"problem\"><span class=\"{}\">{}</span>: {}<div class=\"fix\">fix: {}</div></div>",
            esc(&sev),
            esc(&sev.to_uppercase()),
            esc(&s(p, "message")),
            esc(&s(p, "fix"))
        );
    }
    b.push_str("</div><div class=\"card scroll\"><h2>Queues</h2><table id=\"queues\"><tr><th>queue</th><th class=\"n\">pending</th><th class=\"n\">active</th><th class=\"n\">scheduled</th><th class=\"n\">retry</th><th class=\"n\">dead</th><th>oldest pending</th><th>paused</th><th>done / failed per min (1 h)</th><th></th></tr>");
    let rates = super::rates::read(&app).await;
    for d in st["queues"].as_array().cloned().unwrap_or_default() {
        let q = s(&d, "queue");
        let cell = |state: &str, n: &str| {
            format!(
                "<td class=\"n\"><a href=\"/queues/{}?state={state}\">{}</a></td>",
                url(&q),
                esc(&s(&d, n))
            )
        };
        let paused = d["paused"].as_bool().unwrap_or(false);
        let oldest = d["oldest_pending_age_s"]
            .as_f64()
            .map(output::age)
            .unwrap_or_else(|| "-".into());
        let pause = if paused {
            action_button(&app, "resume", &[("action", "resume"), ("queue", &q)])
        } else {
            action_button(&app, "pause", &[("action", "pause"), ("queue", &q)])
        };
        let _ = write!(
            b,
            "<tr data-queue=\"{0}\"><td><a href=\"/queues/{1}\">{0}</a></td>{2}{3}{4}{5}{6}<td>{7}</td><td>{8}</td><td>{9}</td><td>{10}</td></tr>",
            esc(&q),
            url(&q),
            cell("pending", "pending"),
            cell("active", "active"),
            cell("scheduled", "scheduled"),
            cell("retry", "retry"),
            cell("dead", "dead"),
            esc(&oldest),
            if paused { "<span class=\"warning\">PAUSED</span>" } else { "no" },
            rates.get(&q).map(|r| super::rates::spark(r)).unwrap_or_default(),
            pause
        );
    }
    b.push_str("</table></div>");
    let _ = write!(
        b,
        "<div class=\"card\"><dl class=\"kv\"><dt>broker</dt><dd>{}</dd><dt>beat leader</dt><dd>{}</dd><dt>workers alive</dt><dd>{}</dd></dl></div>",
        esc(&s(&st["broker"], "url")),
        esc(&st["beat"]["holder"].as_str().map_or("none".into(), String::from)),
        st["workers"]
            .as_array()
            .map_or(0, |w| w.iter().filter(|w| w["alive"] == true).count())
    );
    if let Some(p) = st["platform"].as_object() {
        let guard = p
            .get("cron_guard")
            .filter(|g| !g.is_null())
            .map(|g| format!("{} ({})", s(g, "action"), s(g, "detail")))
            .unwrap_or_else(|| "none yet".into());
        let _ = write!(
            b,
            "<div class=\"card\" id=\"platform\"><h2>Platform</h2><dl class=\"kv\"><dt>mode</dt><dd>{}</dd><dt>shadow evidence</dt><dd>{}</dd><dt>last cron-guard</dt><dd>{}</dd></dl></div>",
            esc(&s(&st["platform"], "mode")),
            esc(&s(&st["platform"], "shadow_summary")),
            esc(&guard)
        );
    }
    page(&app, "Overview", "overview", Some(REFRESH_S), &b).into_response()
}

pub async fn queue(
    State(app): State<AppState>,
    Path(queue): Path<String>,
    Query(mut lq): Query<list::ListQuery>,
) -> Response {
    lq.queue = Some(queue.clone());
    let p = match list::page(&app, &lq).await {
        Ok(p) => p,
        Err((code, msg)) => return error_page(&app, code, &msg),
    };
    let mut b = format!("<h1>Queue {}</h1><div class=\"tabs\">", esc(&queue));
    for st in crate::broker::window::Listed::ALL {
        let _ = write!(
            b,
            "<a href=\"/queues/{}?state={1}\"{2}>{1}</a>",
            url(&queue),
            st.name(),
            if st.name() == p.state {
                " class=\"on\""
            } else {
                ""
            }
        );
    }
    let _ = write!(
        b,
        "</div><form method=\"get\" action=\"/queues/{}\"><input type=\"hidden\" name=\"state\" value=\"{}\"><input type=\"search\" name=\"q\" value=\"{}\" placeholder=\"id, unique key (start_test:4211), task or argument\"> <button>Search</button></form>",
        url(&queue),
        esc(&p.state),
        esc(p.q.as_deref().unwrap_or(""))
    );
    let _ = write!(
        b,
        "<p class=\"mut\">{} {} task(s); {} first{}</p>",
        p.total,
        esc(&p.state),
        esc(&p.order),
        p.scanned
            .map(|n| format!("; this page searched {n} of them"))
            .unwrap_or_default()
    );
    let other = if p.order == "newest" {
        "oldest"
    } else {
        "newest"
    };
    let _ = write!(
        b,
        "<p class=\"mut\"><a id=\"order\" href=\"/queues/{}?state={}&amp;order={other}&amp;q={}\">{other} first</a></p>",
        url(&queue),
        url(&p.state),
        url(p.q.as_deref().unwrap_or(""))
    );
    if p.state == "dead" {
        b.push_str(&action_button(
            &app,
            "requeue every dead task",
            &[("action", "requeue"), ("queue", &queue)],
        ));
    }
    if matches!(p.state.as_str(), "pending" | "scheduled" | "retry" | "dead") {
        b.push_str(&action_button(
            &app,
            &format!("purge {}", p.state),
            &[("action", "purge"), ("queue", &queue), ("state", &p.state)],
        ));
    }
    b.push_str("<div class=\"card scroll\"><table id=\"tasks\"><tr><th>id</th><th>task</th><th>state</th><th>at</th><th class=\"n\">attempt</th><th>unique key</th><th>args</th><th>error / reason</th></tr>");
    // A pending row's link says where it is (from the oldest end), so its page finds a
    // task without a record yet in one bounded read (`?near=`).
    // (`list::page` above refused a bad cursor.)
    let offset = list::cursor_offset(&lq).unwrap_or(0);
    for (i, t) in p.tasks.iter().enumerate() {
        let near = if p.state == "pending" && p.q.is_none() {
            let k = offset + i as u64;
            let pos = if p.order == "newest" {
                p.total.saturating_sub(k + 1)
            } else {
                k
            };
            format!("?near={pos}")
        } else {
            String::new()
        };
        let _ = write!(
            b,
            "<tr><td><a href=\"/tasks/{}{near}\">{}</a></td><td>{}</td><td>{}</td><td>{}</td><td class=\"n\">{}</td><td>{}</td><td class=\"wrap\">{}</td><td class=\"wrap\">{}</td></tr>",
            url(&t.id),
            esc(&t.id),
            esc(t.task.as_deref().unwrap_or("?")),
            esc(&t.state),
            esc(&t.at),
            t.attempt.map(|a| a.to_string()).unwrap_or_default(),
            esc(t.unique_key.as_deref().unwrap_or("")),
            esc(&t.args.as_ref().map(|a| Value::Object(a.clone()).to_string()).unwrap_or_default()),
            esc(t.error.as_deref().unwrap_or(""))
        );
    }
    b.push_str("</table></div>");
    if let Some(c) = &p.next_cursor {
        let _ = write!(
            b,
            "<p><a id=\"next\" href=\"/queues/{}?state={}&amp;order={}&amp;cursor={}&amp;q={}\">next page →</a></p>",
            url(&queue),
            url(&p.state),
            url(&p.order),
            url(c),
            url(p.q.as_deref().unwrap_or(""))
        );
    }
    page(&app, &format!("queue {queue}"), "", None, &b).into_response()
}

/// `?near=N` on a task's page: where the pending list showed it (its position from the
/// oldest end), so a pending task without a record is found with a bounded read.
#[derive(Debug, Default, serde::Deserialize)]
pub struct Near {
    pub near: Option<u64>,
}

pub async fn task(
    State(app): State<AppState>,
    Path(id): Path<String>,
    Query(at): Query<Near>,
) -> Response {
    let v = match app.source.task(id.clone(), at.near).await {
        Ok(Some(v)) => v,
        Ok(None) => {
            return error_page(
                &app,
                404,
                &format!("no record of task {id} (a pending task queued without a unique key has none until it runs: open it from its queue's pending list, or run `ciq inspect task {id}`)"),
            )
        }
        Err(e) => return error_page(&app, 503, &e),
    };
    let state = s(&v, "state");
    let mut b = format!(
        "<h1>Task {} <span class=\"mut\">{}</span></h1><div class=\"card\"><dl class=\"kv\" id=\"fields\">",
        esc(&s(&v, "id")),
        esc(&s(&v, "task"))
    );
    let queue = s(&v, "queue");
    let fields = [
        (
            "state",
            format!("<b id=\"state\">{}</b>", esc(&state.to_uppercase())),
        ),
        (
            "queue",
            format!("<a href=\"/queues/{}\">{}</a>", url(&queue), esc(&queue)),
        ),
        ("attempt", esc(&s(&v, "attempt"))),
        ("max retries", esc(&s(&v, "max_retries"))),
        ("unique key", esc(&s(&v, "unique_key"))),
        ("worker", esc(&s(&v, "worker"))),
        ("claimed at", esc(&s(&v, "claimed_at"))),
        ("next run", esc(&s(&v, "next_at"))),
        (
            "reason",
            format!("<span id=\"reason\">{}</span>", esc(&s(&v, "reason"))),
        ),
    ];
    for (k, val) in fields {
        if !val.is_empty() && !val.ends_with("\"></span>") {
            let _ = write!(b, "<dt>{k}</dt><dd>{val}</dd>");
        }
    }
    b.push_str("</dl>");
    if matches!(
        state.as_str(),
        "pending" | "scheduled" | "retrying" | "deferred" | "running"
    ) {
        let mut params = vec![
            ("action", "cancel"),
            ("queue", queue.as_str()),
            ("id", id.as_str()),
        ];
        if state == "running" {
            params.push(("terminate", "1"));
        }
        b.push_str(&action_button(&app, "cancel", &params));
    }
    if matches!(state.as_str(), "dead" | "failed") {
        b.push_str(&action_button(
            &app,
            "requeue",
            &[
                ("action", "requeue"),
                ("queue", queue.as_str()),
                ("id", id.as_str()),
            ],
        ));
    }
    b.push_str("</div><h2>Arguments</h2>");
    let _ = write!(
        b,
        "<pre id=\"args\">{}</pre>",
        esc(&serde_json::to_string_pretty(&v["args"]).unwrap_or_default())
    );
    for (k, title) in [("last_error", "Last error"), ("output", "Output tail")] {
        if let Some(x) = v[k].as_str() {
            let _ = write!(b, "<h2>{title}</h2><pre id=\"{k}\">{}</pre>", esc(x));
        }
    }
    b.push_str("<h2>History</h2><ol class=\"timeline\" id=\"history\">");
    for e in v["events"].as_array().cloned().unwrap_or_default() {
        let ev = s(&e, "event");
        let mut d = vec![];
        for (k, label) in [
            ("worker", "by "),
            ("attempt", "attempt "),
            ("reason", ""),
            ("error", "error: "),
            ("next_at", "next "),
        ] {
            let x = s(&e, k);
            if !x.is_empty() {
                d.push(format!("{label}{x}"));
            }
        }
        let _ = write!(
            b,
            "<li class=\"{0}\"><span class=\"ev\">{0}</span> <span class=\"mut\">{1}</span><div class=\"wrap\">{2}</div></li>",
            esc(&ev),
            esc(&s(&e, "at")),
            esc(&d.join("; "))
        );
    }
    b.push_str("</ol>");
    page(&app, &format!("task {id}"), "", None, &b).into_response()
}

pub async fn workers(State(app): State<AppState>) -> Response {
    let st = app.source.status().await;
    let mut b = String::from("<h1>Workers</h1><div class=\"card scroll\"><table id=\"workers\"><tr><th>worker</th><th>host</th><th class=\"n\">pid</th><th>queues</th><th class=\"n\">busy</th><th>heartbeat</th><th>state</th></tr>");
    let active = active_by_worker(&app).await;
    let ws = st["workers"].as_array().cloned().unwrap_or_default();
    for w in &ws {
        let id = s(w, "id");
        let runs = active.get(&id).cloned().unwrap_or_default();
        let _ = write!(
            b,
            "<tr><td>{}</td><td>{}</td><td class=\"n\">{}</td><td>{}</td><td class=\"n\">{}/{}</td><td>{} ago</td><td>{}</td></tr>",
            esc(&id),
            esc(&s(w, "host")),
            esc(&s(w, "pid")),
            esc(&w["queues"].as_array().map(|q| q.iter().filter_map(|x| x.as_str()).collect::<Vec<_>>().join(", ")).unwrap_or_default()),
            esc(&s(w, "busy")),
            esc(&s(w, "concurrency")),
            esc(&output::age(w["last_heartbeat_s"].as_f64().unwrap_or(0.0))),
            if w["alive"] == true { "<span class=\"ok\">alive</span>" } else { "<span class=\"warning\">STALE</span>" }
        );
        if !runs.is_empty() {
            let _ = write!(
                b,
                "<tr><td></td><td colspan=\"6\" class=\"wrap mut\">runs: {}</td></tr>",
                runs.join(", ")
            );
        }
    }
    if ws.is_empty() {
        b.push_str("<tr><td colspan=\"7\" class=\"mut\">no worker has sent a heartbeat</td></tr>");
    }
    b.push_str("</table></div>");
    page(&app, "Workers", "workers", Some(REFRESH_S), &b).into_response()
}

/// What each worker runs now (links to the tasks), at most 200 per queue.
async fn active_by_worker(app: &AppState) -> std::collections::HashMap<String, Vec<String>> {
    use crate::broker::window::Listed;
    let mut out: std::collections::HashMap<String, Vec<String>> = Default::default();
    for q in app.source.queues().await.unwrap_or_default() {
        if let Ok((_, entries)) = app.broker.window(&q, Listed::Active, 0, 200, false).await {
            for e in &entries {
                if let Some(r) = list::row(&q, Listed::Active, e) {
                    out.entry(r.worker.clone().unwrap_or_default())
                        .or_default()
                        .push(format!(
                            "<a href=\"/tasks/{}\">{}</a> {}",
                            url(&r.id),
                            esc(&r.id),
                            esc(r.task.as_deref().unwrap_or(""))
                        ));
                }
            }
        }
    }
    out
}

pub async fn beat(State(app): State<AppState>) -> Response {
    let v = match app.source.scheduled().await {
        Ok(v) => v,
        Err(e) => return error_page(&app, 503, &e),
    };
    let mut b = String::from("<h1>Beat</h1><div class=\"card\">");
    match v["leader"].as_object() {
        Some(_) => {
            let l = &v["leader"];
            let _ = write!(
                b,
                "<p>leader <b id=\"leader\">{}</b> since {}</p>",
                esc(&s(l, "holder")),
                esc(&s(l, "since"))
            );
        }
        None => b.push_str("<p class=\"warning\" id=\"leader\">no beat holds the leader lease</p>"),
    }
    for bt in v["beats"].as_array().cloned().unwrap_or_default() {
        let _ = write!(
            b,
            "<div class=\"mut\">{} ({}), seen {}</div>",
            esc(&s(&bt, "id")),
            esc(&s(&bt, "role")),
            esc(&s(&bt, "last_seen"))
        );
    }
    b.push_str("</div><div class=\"card scroll\"><table id=\"entries\"><tr><th>entry</th><th>task</th><th>queue</th><th>schedule</th><th>last run</th><th>outcome</th><th>next run</th></tr>");
    for e in v["periodic"].as_array().cloned().unwrap_or_default() {
        let last_task = s(&e, "last_task_id");
        let _ = write!(
            b,
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            esc(&s(&e, "name")),
            esc(&s(&e, "task")),
            esc(&s(&e, "queue")),
            esc(&s(&e, "schedule")),
            if last_task.is_empty() { esc(&s(&e, "last_run")) } else { format!("<a href=\"/tasks/{}\">{}</a>", url(&last_task), esc(&s(&e, "last_run"))) },
            esc(&s(&e, "last_outcome")),
            esc(&s(&e, "next_run"))
        );
    }
    b.push_str("</table></div>");
    page(&app, "Beat", "beat", Some(REFRESH_S), &b).into_response()
}
