//! Drawing `ciq top` for one snapshot: problems first, then queues, workers, beat and
//! dead tasks, and a key line at the bottom. Fits 80×24; wider terminals get more room.

use super::model::{Snapshot, HISTORY};
use super::App;
use crate::output;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Paragraph, Row, Table};
use ratatui::Frame;

const SPARK: [char; 8] = ['▁', '▂', '▃', '▄', '▅', '▆', '▇', '█'];

/// A text sparkline of the last `width` samples, scaled to their maximum.
pub fn sparkline(samples: &[u64], width: usize) -> String {
    let s = &samples[samples.len().saturating_sub(width)..];
    let max = s.iter().copied().max().unwrap_or(0);
    s.iter()
        .map(|&v| {
            let level = (v * 7 + max / 2).checked_div(max).unwrap_or(0);
            SPARK[level.min(7) as usize]
        })
        .collect()
}

fn rate(v: f64) -> String {
    if v >= 100.0 {
        format!("{v:.0}")
    } else {
        format!("{v:.1}")
    }
}

fn bold() -> Style {
    Style::default().add_modifier(Modifier::BOLD)
}

pub fn draw(f: &mut Frame, app: &App) {
    let area = f.area();
    let Some(snap) = &app.snap else {
        f.render_widget(Paragraph::new("ciq top: reading Redis…"), area);
        return;
    };
    let s = &snap.status;
    let problems: Vec<Line> = if s.problems.is_empty() {
        vec![Line::styled(
            "OK: no problems",
            Style::default().fg(Color::Green),
        )]
    } else {
        s.problems
            .iter()
            .take(4)
            .map(|p| {
                let color = if p.severity == "critical" {
                    Color::Red
                } else {
                    Color::Yellow
                };
                Line::from(vec![
                    Span::styled(format!("{}: ", p.severity.to_uppercase()), bold().fg(color)),
                    Span::raw(p.message.clone()),
                ])
            })
            .collect()
    };
    let workers_h = (s.workers.len().max(1) + 1) as u16;
    // The dead list takes the rest of the screen: as many rows as fit, no blank lines
    // under a cut list.
    let [head, probs, queues, workers, beat, dead, foot] = Layout::vertical([
        Constraint::Length(1),
        Constraint::Length(problems.len() as u16),
        Constraint::Length(s.queues.len().max(1) as u16 + 1),
        Constraint::Length(workers_h.min(8)),
        Constraint::Length(1),
        Constraint::Min(1),
        Constraint::Length(1),
    ])
    .areas(area);
    header(f, head, app, snap);
    f.render_widget(Paragraph::new(problems), probs);
    queue_table(f, queues, app, snap);
    worker_table(f, workers, snap);
    beat_line(f, beat, snap);
    dead_table(f, dead, snap);
    footer(f, foot, app);
}

fn header(f: &mut Frame, r: Rect, app: &App, snap: &Snapshot) {
    let s = &snap.status;
    let redis = match &s.broker.info {
        Some(i) => format!(
            "Redis {} AOF {}",
            i.version,
            if i.aof_enabled { "on" } else { "off" }
        ),
        None if s.broker.reachable => "reachable".into(),
        None => "UNREACHABLE".into(),
    };
    let clock = output::ts(snap.at_ms);
    let mut spans = vec![
        Span::styled("ciq top ", bold()),
        Span::raw(format!("{}  {}  {}", s.broker.url, redis, &clock[11..19])),
    ];
    if app.read_only {
        spans.push(Span::styled(
            "  [read-only]",
            Style::default().fg(Color::Cyan),
        ));
    }
    f.render_widget(Paragraph::new(Line::from(spans)), r);
}

/// The width of the longest of `names` (at least `min`): no queue name is cut.
fn widest<'a>(names: impl Iterator<Item = &'a str>, min: usize) -> u16 {
    names.map(|n| n.chars().count()).max().unwrap_or(0).max(min) as u16
}

fn queue_table(f: &mut Frame, r: Rect, app: &App, snap: &Snapshot) {
    let name_w = widest(snap.status.queues.iter().map(|d| d.queue.as_str()), 5) + 1;
    let spark_w = (r.width as usize)
        .saturating_sub(61 + name_w as usize)
        .clamp(4, HISTORY);
    let rows = snap.status.queues.iter().enumerate().map(|(i, d)| {
        let rt = snap.rates.get(&d.queue).copied().unwrap_or_default();
        let hist: Vec<u64> = app
            .rates
            .history
            .get(&d.queue)
            .map(|h| h.iter().copied().collect())
            .unwrap_or_default();
        let mut style = Style::default();
        if i == app.selected {
            style = style.add_modifier(Modifier::REVERSED);
        }
        Row::new(vec![
            format!("{}{}", if i == app.selected { ">" } else { " " }, d.queue),
            d.pending.to_string(),
            d.active.to_string(),
            (d.scheduled + d.retry).to_string(),
            d.dead.to_string(),
            d.oldest_pending_age_s
                .map(output::age)
                .unwrap_or_else(|| "-".into()),
            if d.paused { "PAUSED".into() } else { "".into() },
            rate(rt.done),
            rate(rt.failed),
            rate(rt.retried),
            sparkline(&hist, spark_w),
        ])
        .style(style)
    });
    let t = Table::new(
        rows,
        [
            Constraint::Length(name_w),
            Constraint::Length(6),
            Constraint::Length(4),
            Constraint::Length(5),
            Constraint::Length(5),
            Constraint::Length(7),
            Constraint::Length(6),
            Constraint::Length(6),
            Constraint::Length(6),
            Constraint::Length(6),
            Constraint::Min(4),
        ],
    )
    .column_spacing(1)
    .header(
        Row::new(vec![
            " queue", "pend", "act", "later", "dead", "oldest", "", "done/s", "fail/s", "retr/s",
            "history",
        ])
        .style(bold()),
    );
    f.render_widget(t, r);
}

fn worker_table(f: &mut Frame, r: Rect, snap: &Snapshot) {
    let rows = snap.status.workers.iter().map(|w| {
        let now: Vec<String> = snap
            .running
            .get(&w.id)
            .map(|ts| {
                ts.iter()
                    .map(|t| format!("{} {} ({})", t.task, t.id, output::age(t.runtime_s)))
                    .collect()
            })
            .unwrap_or_default();
        // A heartbeat two beats late: the worker is stopped (SIGSTOP), hung or gone; what
        // it last said (busy N) may no longer be true, so the claims in Redis are shown.
        let late = w.last_heartbeat_s > 2.0 * snap.heartbeat_s + 1.0;
        let style = if w.alive && !late {
            Style::default()
        } else {
            Style::default().fg(Color::Red)
        };
        let heard = output::age(w.last_heartbeat_s);
        let doing = match (w.alive, late, now.is_empty()) {
            (false, ..) => "NO HEARTBEAT: stopped or gone".into(),
            (true, true, true) => "heartbeat late: paused or hung?".into(),
            (true, true, false) => format!("heartbeat late: {}", now.join(", ")),
            (true, false, true) => "idle".into(),
            (true, false, false) => now.join(", "),
        };
        Row::new(vec![
            w.id.clone(),
            w.pid.to_string(),
            format!("{heard}{}", if w.alive && !late { "" } else { "!" }),
            // Tasks it holds in Redis now (its heartbeat's count can be stale).
            format!("{}/{}", now.len(), w.concurrency),
            doing,
        ])
        .style(style)
    });
    let t = Table::new(
        rows,
        [
            Constraint::Length(22),
            Constraint::Length(7),
            Constraint::Length(6),
            Constraint::Length(5),
            Constraint::Min(10),
        ],
    )
    .column_spacing(1)
    .header(Row::new(vec!["worker@host", "pid", "beat", "busy", "running now"]).style(bold()));
    f.render_widget(t, r);
}

fn beat_line(f: &mut Frame, r: Rect, snap: &Snapshot) {
    let leader = match &snap.status.beat {
        Some(b) => format!("beat: leader {}", b.holder),
        None => "beat: NO LEADER".into(),
    };
    let next: Vec<String> = snap
        .ticks
        .iter()
        .take(3)
        .map(|t| match t.next_ms {
            Some(ms) => format!(
                "{} in {}",
                t.entry,
                output::age(ms.saturating_sub(snap.at_ms) as f64 / 1000.0)
            ),
            None => format!("{} (not yet)", t.entry),
        })
        .collect();
    let text = if next.is_empty() {
        leader
    } else {
        format!("{leader}  next: {}", next.join(", "))
    };
    f.render_widget(Paragraph::new(text), r);
}

fn dead_table(f: &mut Frame, r: Rect, snap: &Snapshot) {
    if snap.dead.is_empty() {
        f.render_widget(Paragraph::new("dead: none"), r);
        return;
    }
    // The title line and the column header take two rows; the rest shows tasks.
    let fit = (r.height as usize).saturating_sub(2).min(snap.dead.len());
    let [title, table] = Layout::vertical([Constraint::Length(1), Constraint::Min(0)]).areas(r);
    let shown = if fit as u64 == snap.dead_total {
        String::new()
    } else {
        format!(", {fit} shown")
    };
    f.render_widget(
        Paragraph::new(format!("dead: {} (newest first{shown})", snap.dead_total)),
        title,
    );
    let rows = snap.dead.iter().take(fit).map(|d| {
        Row::new(vec![
            output::ts(d.died_ms)[11..19].to_string(),
            d.queue.clone(),
            d.task.clone(),
            d.id.clone(),
            d.error.clone(),
        ])
    });
    let t = Table::new(
        rows,
        [
            Constraint::Length(8),
            Constraint::Length(widest(snap.dead.iter().map(|d| d.queue.as_str()), 5)),
            Constraint::Length(widest(snap.dead.iter().map(|d| d.task.as_str()), 4).min(24)),
            Constraint::Length(26),
            Constraint::Min(10),
        ],
    )
    .column_spacing(1)
    .header(Row::new(vec!["died", "queue", "task", "id", "error"]).style(bold()));
    f.render_widget(t, table);
}

fn footer(f: &mut Frame, r: Rect, app: &App) {
    let text = match (&app.confirm, &app.message) {
        (Some(a), _) => Line::styled(
            format!(
                "{}? press y to confirm, any other key cancels",
                a.describe()
            ),
            bold().fg(Color::Yellow),
        ),
        (None, Some(m)) => Line::raw(m.clone()),
        (None, None) if app.read_only => {
            Line::raw("↑/↓ select queue   q quit   (read-only: no pause, resume or requeue)")
        }
        (None, None) => Line::raw("↑/↓ select queue   p pause/resume   r requeue dead   q quit"),
    };
    f.render_widget(Paragraph::new(text), r);
}

#[cfg(test)]
mod tests {
    use super::sparkline;

    #[test]
    fn sparkline_scales_to_the_maximum_and_keeps_the_newest() {
        assert_eq!(sparkline(&[0, 0, 0], 8), "▁▁▁");
        assert_eq!(sparkline(&[0, 5, 10], 8), "▁▅█");
        assert_eq!(sparkline(&[10, 0, 10], 2), "▁█");
    }
}
