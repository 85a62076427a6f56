//! `GET /api/...`: the CLI's `--json` values over HTTP.
//! - `/api/status`: `ciq status --json`
//! - `/api/queues`: `ciq depth --json` (one `Depth` per queue)
//! - `/api/tasks?queue=&state=&q=&cursor=&order=&limit=`: a `TaskPage`
//! - `/api/tasks/{id}`: `ciq inspect task --json` (an id or a unique key)
//! - `/api/workers`: the `workers` of `ciq status --json`
//! - `/api/beat`: `ciq inspect scheduled --json`

use super::{list, AppState};
use crate::broker::queues::Depth;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::{json, Value};

pub fn error(code: u16, msg: impl Into<String>) -> Response {
    let code = StatusCode::from_u16(code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    (code, Json(json!({ "error": msg.into() }))).into_response()
}

pub async fn status(State(app): State<AppState>) -> Response {
    Json(app.source.status().await).into_response()
}

/// Every queue's depth (the same `Depth` as `ciq depth --json`).
pub async fn depths(app: &AppState) -> Result<Vec<Depth>, String> {
    let names = app.source.queues().await?;
    let now = crate::broker::now_ms();
    let mut out = vec![];
    for q in names {
        out.push(
            app.broker
                .depth(&q, now)
                .await
                .map_err(|e| format!("cannot read queue {q}: {e}"))?,
        );
    }
    Ok(out)
}

pub async fn queues(State(app): State<AppState>) -> Response {
    match depths(&app).await {
        Ok(d) => Json(d).into_response(),
        Err(e) => error(503, e),
    }
}

pub async fn tasks(State(app): State<AppState>, Query(q): Query<list::ListQuery>) -> Response {
    match list::page(&app, &q).await {
        Ok(p) => Json(p).into_response(),
        Err((code, msg)) => error(code, msg),
    }
}

pub async fn task(
    State(app): State<AppState>,
    Path(id): Path<String>,
    Query(at): Query<super::pages::Near>,
) -> Response {
    match app.source.task(id.clone(), at.near).await {
        Ok(Some(v)) => Json(v).into_response(),
        Ok(None) => error(
            404,
            format!("no record of task {id} (a pending task queued without a unique key has none until it runs: pass ?near=<its position in the pending list, oldest first>, or run `ciq inspect task {id}`)"),
        ),
        Err(e) => error(503, e),
    }
}

pub async fn workers(State(app): State<AppState>) -> Response {
    let s = app.source.status().await;
    Json(s.get("workers").cloned().unwrap_or(Value::Array(vec![]))).into_response()
}

pub async fn beat(State(app): State<AppState>) -> Response {
    match app.source.scheduled().await {
        Ok(v) => Json(v).into_response(),
        Err(e) => error(503, e),
    }
}
