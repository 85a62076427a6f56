//! Done/failed per minute on the overview: `ciq web` samples each queue's counters
//! into Redis every `EVERY` (see `broker::rates`) and draws the last hour.

use super::html::esc;
use super::AppState;
use crate::broker::rates::per_minute;
use std::collections::HashMap;
use std::time::Duration;

pub const EVERY: Duration = Duration::from_secs(20);

/// Samples every known queue once.
pub async fn sample(app: &AppState) {
    let now = crate::broker::now_ms();
    for q in app.source.queues().await.unwrap_or_default() {
        let _ = app.broker.sample_rates(&q, now).await;
    }
}

/// Samples forever (spawned by `serve`).
pub async fn sampler(app: AppState) {
    loop {
        sample(&app).await;
        tokio::time::sleep(EVERY).await;
    }
}

/// Each queue's (minute, done/min, failed/min) over the last hour.
pub async fn read(app: &AppState) -> HashMap<String, Vec<(u64, f64, f64)>> {
    let mut out = HashMap::new();
    for q in app.source.queues().await.unwrap_or_default() {
        if let Ok(s) = app.broker.rate_samples(&q).await {
            out.insert(q, per_minute(&s));
        }
    }
    out
}

/// Bars for the hour (done green, failed red) and the last whole minute's figures (the
/// current minute's sample counts only what has happened so far).
pub fn spark(r: &[(u64, f64, f64)]) -> String {
    let this_minute = crate::broker::now_ms() / 60_000;
    let Some(&(_, d, f)) = r.iter().rev().find(|x| x.0 < this_minute) else {
        return "<span class=\"mut\">sampling…</span>".into();
    };
    let max = r.iter().map(|x| x.1.max(x.2)).fold(1.0, f64::max);
    let mut bars = String::new();
    for (_, d, f) in r.iter().rev().take(60).rev() {
        bars.push_str(&format!(
            "<i style=\"height:{:.0}px\"></i><i class=\"f\" style=\"height:{:.0}px\"></i>",
            (d / max * 22.0).max(1.0),
            (f / max * 22.0).max(1.0)
        ));
    }
    format!(
        "<span class=\"spark\" title=\"done and failed per minute, last hour\">{bars}</span> <span class=\"rate\">{}</span>",
        esc(&format!("{d:.0} / {f:.0}"))
    )
}
