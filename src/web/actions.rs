//! Writes, only with `--allow-actions`: requeue dead, pause, resume, cancel, purge.
//! A page first shows a confirm step (GET `/actions/confirm`), whose form POSTs to
//! `/actions` with the CSRF token; scripts POST JSON to `/api/actions` with a bearer
//! token. Every action done (or refused by Redis) is one JSON line in the audit log.

use super::auth::AuthBy;
use super::html::{error_page, esc, page};
use super::{api, AppState};
use crate::broker::cancel::Canceled;
use crate::broker::tasks::State as SetState;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::{Extension, Form, Json};
use serde::{Deserialize, Serialize};
use std::io::Write;

/// At most this many dead tasks are requeued by one action.
const REQUEUE_MAX: isize = 10_000;

#[derive(Debug, Clone, Default, Deserialize, Serialize)]
pub struct Action {
    /// requeue | pause | resume | cancel | purge
    pub action: String,
    pub queue: String,
    /// cancel: the task; requeue: one dead task (default: every dead task, up to 10,000).
    #[serde(default)]
    pub id: Option<String>,
    /// purge: pending | scheduled | retry | dead
    #[serde(default)]
    pub state: Option<String>,
    /// cancel: also a running task ("1").
    #[serde(default)]
    pub terminate: Option<String>,
    /// Pages: the CSRF token the confirm form carries.
    #[serde(default, skip_serializing)]
    pub csrf: Option<String>,
}

impl Action {
    fn terminate(&self) -> bool {
        matches!(self.terminate.as_deref(), Some("1" | "true" | "on"))
    }

    fn describe(&self) -> String {
        let q = &self.queue;
        match self.action.as_str() {
            "pause" => format!("pause queue {q} (workers stop claiming its tasks)"),
            "resume" => format!("resume queue {q}"),
            "requeue" => match &self.id {
                Some(id) => format!("requeue dead task {id} of {q}"),
                None => format!("requeue every dead task of {q}"),
            },
            "purge" => format!(
                "delete every {} task of {q} (running tasks are never touched)",
                self.state.as_deref().unwrap_or("?")
            ),
            "cancel" => format!(
                "cancel task {} of {q}{}",
                self.id.as_deref().unwrap_or("?"),
                if self.terminate() {
                    ", stopping its run if it is running"
                } else {
                    ""
                }
            ),
            other => format!("unknown action {other:?}"),
        }
    }
}

fn forbidden(msg: &str) -> Response {
    (StatusCode::FORBIDDEN, format!("403 forbidden: {msg}\n")).into_response()
}

pub async fn confirm(State(app): State<AppState>, Query(a): Query<Action>) -> Response {
    if !app.opts.allow_actions {
        return forbidden("ciq web is read-only (start it with --allow-actions)");
    }
    let hidden =
        |k: &str, v: &str| format!("<input type=\"hidden\" name=\"{k}\" value=\"{}\">", esc(v));
    let mut form =
        hidden("action", &a.action) + &hidden("queue", &a.queue) + &hidden("csrf", &app.csrf);
    for (k, v) in [
        ("id", &a.id),
        ("state", &a.state),
        ("terminate", &a.terminate),
    ] {
        if let Some(v) = v {
            form.push_str(&hidden(k, v));
        }
    }
    let body = format!(
        "<h1>Confirm</h1><div class=\"card\"><p>You are about to <b>{}</b>.</p>\
<form method=\"post\" action=\"/actions\" id=\"confirm\">{form}<button class=\"danger\" type=\"submit\">Yes, {}</button> \
<a href=\"/\">No, go back</a></form></div>",
        esc(&a.describe()),
        esc(&a.action)
    );
    page(&app, "confirm", "", None, &body).into_response()
}

/// The page's POST: CSRF token in the form.
pub async fn perform(
    State(app): State<AppState>,
    Extension(by): Extension<AuthBy>,
    Form(a): Form<Action>,
) -> Response {
    if let Some(r) = refused(&app, by, a.csrf.as_deref()) {
        return r;
    }
    match run(&app, &a, "page").await {
        Ok(msg) => page(
            &app,
            "done",
            "",
            None,
            &format!(
                "<h1>Done</h1><div class=\"card\"><p id=\"result\">{}</p><p><a href=\"/queues/{}\">back to queue {}</a></p></div>",
                esc(&msg),
                super::html::url(&a.queue),
                esc(&a.queue)
            ),
        )
        .into_response(),
        Err((code, msg)) => error_page(&app, code, &msg),
    }
}

/// Scripts' POST (JSON body); a cookie session must send the CSRF token in
/// `X-CSRF-Token`.
pub async fn perform_api(
    State(app): State<AppState>,
    Extension(by): Extension<AuthBy>,
    headers: HeaderMap,
    Json(a): Json<Action>,
) -> Response {
    let csrf = headers.get("x-csrf-token").and_then(|v| v.to_str().ok());
    if let Some(r) = refused(&app, by, csrf) {
        return r;
    }
    match run(&app, &a, "api").await {
        Ok(msg) => Json(serde_json::json!({"ok": true, "result": msg})).into_response(),
        Err((code, msg)) => api::error(code, msg),
    }
}

/// None when allowed, else the 403 to answer.
fn refused(app: &AppState, by: AuthBy, csrf: Option<&str>) -> Option<Response> {
    if !app.opts.allow_actions {
        return Some(forbidden(
            "ciq web is read-only (start it with --allow-actions)",
        ));
    }
    if by == AuthBy::Cookie && !csrf.is_some_and(|c| super::auth::same(c, &app.csrf)) {
        return Some(forbidden(
            "missing or wrong CSRF token: confirm the action from its page",
        ));
    }
    None
}

/// Checks, does and audits one action.
async fn run(app: &AppState, a: &Action, via: &str) -> Result<String, (u16, String)> {
    crate::broker::keys::validate_queue_name(&a.queue).map_err(|e| (400, e))?;
    // The audit log must be writable before anything changes.
    let mut log = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&app.opts.audit_log)
        .map_err(|e| {
            (
                500,
                format!(
                    "cannot open the audit log {}: {e}; nothing was done",
                    app.opts.audit_log.display()
                ),
            )
        })?;
    let res = apply(app, a).await;
    let line = serde_json::json!({
        "at": crate::output::ts(crate::broker::now_ms()),
        "via": via,
        "action": a,
        "ok": res.is_ok(),
        "result": match &res { Ok(m) => m.clone(), Err((_, m)) => m.clone() },
    });
    writeln!(log, "{line}").map_err(|e| {
        (
            500,
            format!("the action ran but the audit log could not be written: {e}"),
        )
    })?;
    res
}

async fn apply(app: &AppState, a: &Action) -> Result<String, (u16, String)> {
    let b = &app.broker;
    let q = a.queue.as_str();
    let be = |e: crate::broker::Error| (503, e.to_string());
    match a.action.as_str() {
        "pause" | "resume" => {
            b.set_paused(q, a.action == "pause").await.map_err(be)?;
            Ok(format!("queue {q} {}d", a.action))
        }
        "purge" => {
            let state = match a.state.as_deref() {
                Some("pending") => SetState::Pending,
                Some("scheduled") => SetState::Scheduled,
                Some("retry") => SetState::Retry,
                Some("dead") => SetState::Dead,
                _ => return Err((400, "purge needs state=pending|scheduled|retry|dead".into())),
            };
            let mut n = 0;
            loop {
                let got = b.purge_batch(q, state, 500).await.map_err(be)?;
                n += got;
                if got == 0 {
                    break;
                }
            }
            Ok(format!("purged {n} {} task(s) of {q}", state.name()))
        }
        "requeue" => {
            let ids: Vec<String> = match &a.id {
                Some(id) => vec![id.clone()],
                None => b
                    .stored(q, SetState::Dead, REQUEUE_MAX)
                    .await
                    .map_err(be)?
                    .into_iter()
                    // As `ciq requeue`: a message carrying a secret is not sent again.
                    .filter(|t| {
                        t.envelope
                            .as_ref()
                            .is_some_and(|e| crate::secrets::find_secret_arg(&e.args).is_none())
                    })
                    .map(|t| t.id)
                    .collect(),
            };
            let mut done = 0;
            for chunk in ids.chunks(500) {
                done += b
                    .requeue_dead(q, chunk)
                    .await
                    .map_err(be)?
                    .iter()
                    .filter(|r| **r == 1)
                    .count();
            }
            Ok(format!("requeued {done} dead task(s) of {q}"))
        }
        "cancel" => {
            let Some(id) = a.id.as_deref() else {
                return Err((400, "cancel needs id=".into()));
            };
            match b
                .cancel(q, id, a.terminate(), "ciq web")
                .await
                .map_err(be)?
            {
                Canceled::From(from) => Ok(format!("canceled task {id} (it was {from})")),
                Canceled::Running => Err((
                    409,
                    format!("task {id} is running: cancel it with terminate"),
                )),
                Canceled::Dead => Err((
                    409,
                    format!("task {id} is dead: requeue or purge it instead"),
                )),
                Canceled::NotLive => Err((
                    404,
                    format!("no pending, scheduled, retrying or running task {id} in {q}"),
                )),
            }
        }
        other => Err((
            400,
            format!("unknown action {other:?}: requeue, pause, resume, cancel or purge"),
        )),
    }
}
