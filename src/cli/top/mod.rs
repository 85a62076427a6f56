//! `ciq top`: a live terminal dashboard (ratatui) of queues, rates, workers, beat and
//! dead tasks, with `status`'s problems on top; keys pause/resume a queue and requeue its
//! dead tasks, each confirmed, unless `--read-only`.

mod model;
mod view;

use super::{CliError, CliResult, Ctx};
use crate::broker::tasks::State;
use crate::broker::Broker;
use crate::config::parse_duration;
use crate::output;
use ratatui::crossterm::event::{self, Event, KeyCode, KeyEventKind, KeyModifiers};
use std::process::ExitCode;
use std::time::{Duration, Instant};

/// Live dashboard: queues (depth, rates, history, oldest, paused), workers and what they
/// run, beat leader and next ticks, recent dead tasks; problems first.
#[derive(Debug, clap::Args)]
#[command(
    after_help = "Keys: up/down select a queue, p pause or resume it, r requeue its dead tasks (each asks y to confirm), q or Ctrl-C quit."
)]
pub struct TopArgs {
    /// Refresh every DURATION.
    #[arg(long, value_name = "DURATION", default_value = "1s")]
    pub interval: String,
    /// Show only: the pause, resume and requeue keys are refused (for shared screens).
    #[arg(long)]
    pub read_only: bool,
    /// A pending task older than this is a problem (as in `ciq status`).
    #[arg(long, value_name = "DURATION", default_value = "15m")]
    pub stuck_after: String,
}

/// A change the operator asked for, waiting for confirmation.
#[derive(Debug, Clone, PartialEq)]
pub enum Action {
    Pause(String),
    Resume(String),
    RequeueDead(String, u64),
}

impl Action {
    fn describe(&self) -> String {
        match self {
            Action::Pause(q) => format!("pause queue {q}"),
            Action::Resume(q) => format!("resume queue {q}"),
            Action::RequeueDead(q, n) => format!("requeue {n} dead task(s) of {q}"),
        }
    }
}

/// The dashboard's state between frames.
pub struct App {
    pub snap: Option<model::Snapshot>,
    pub rates: model::RateState,
    pub selected: usize,
    /// Arrow presses made before the first snapshot (no queues to move over yet).
    pub pending_moves: i64,
    pub confirm: Option<Action>,
    pub message: Option<String>,
    pub read_only: bool,
    pub quit: bool,
}

impl App {
    /// Nothing read yet, nothing selected.
    fn new(read_only: bool) -> App {
        App {
            snap: None,
            rates: Default::default(),
            selected: 0,
            pending_moves: 0,
            confirm: None,
            message: None,
            read_only,
            quit: false,
        }
    }

    /// After a refresh with `n` queues: keeps the selection on one of them and applies
    /// the arrow presses that came before there was anything to select.
    pub fn settle(&mut self, n: usize) {
        if n == 0 {
            self.selected = 0;
            return;
        }
        let moved = self.selected.min(n - 1) as i64 + self.pending_moves;
        self.pending_moves = 0;
        self.selected = moved.rem_euclid(n as i64) as usize;
    }

    fn selected_queue(&self) -> Option<&crate::broker::queues::Depth> {
        self.snap.as_ref()?.status.queues.get(self.selected)
    }

    /// Handles one key; returns a confirmed action to carry out.
    pub fn on_key(&mut self, code: KeyCode, ctrl: bool) -> Option<Action> {
        if let Some(a) = self.confirm.take() {
            if code == KeyCode::Char('y') {
                return Some(a);
            }
            self.message = Some(format!("cancelled: {}", a.describe()));
            return None;
        }
        self.message = None;
        let n = self
            .snap
            .as_ref()
            .map(|s| s.status.queues.len())
            .unwrap_or(0);
        match code {
            KeyCode::Char('q') | KeyCode::Esc => self.quit = true,
            KeyCode::Char('c') if ctrl => self.quit = true,
            KeyCode::Down | KeyCode::Char('j') | KeyCode::Tab if n > 0 => {
                self.selected = (self.selected + 1) % n
            }
            KeyCode::Up | KeyCode::Char('k') if n > 0 => {
                self.selected = (self.selected + n - 1) % n
            }
            KeyCode::Down | KeyCode::Char('j') | KeyCode::Tab => self.pending_moves += 1,
            KeyCode::Up | KeyCode::Char('k') => self.pending_moves -= 1,
            KeyCode::Char('p') | KeyCode::Char('r') if self.read_only => {
                self.message = Some("refused: read-only (started with --read-only)".into())
            }
            KeyCode::Char('p') => {
                self.confirm = self.selected_queue().map(|d| {
                    if d.paused {
                        Action::Resume(d.queue.clone())
                    } else {
                        Action::Pause(d.queue.clone())
                    }
                })
            }
            KeyCode::Char('r') => match self.selected_queue() {
                Some(d) if d.dead > 0 => {
                    self.confirm = Some(Action::RequeueDead(d.queue.clone(), d.dead))
                }
                Some(d) => self.message = Some(format!("{} has no dead tasks", d.queue)),
                None => {}
            },
            _ => {}
        }
        None
    }
}

async fn apply(broker: &Broker, a: &Action) -> crate::broker::Result<String> {
    Ok(match a {
        Action::Pause(q) => {
            broker.set_paused(q, true).await?;
            format!("paused {q}")
        }
        Action::Resume(q) => {
            broker.set_paused(q, false).await?;
            format!("resumed {q}")
        }
        Action::RequeueDead(q, _) => {
            let ids: Vec<String> = broker
                .stored(q, State::Dead, isize::MAX)
                .await?
                .into_iter()
                .map(|t| t.id)
                .collect();
            let (mut done, mut held) = (0, 0);
            for chunk in ids.chunks(500) {
                for r in broker.requeue_dead(q, chunk).await? {
                    match r {
                        1 => done += 1,
                        -1 => held += 1,
                        _ => {}
                    }
                }
            }
            format!("requeued {done} dead task(s) of {q} ({held} skipped: unique key held)")
        }
    })
}

pub async fn run(a: TopArgs, ctx: &Ctx) -> CliResult<ExitCode> {
    let parse = |flag: &str, v: &str| {
        parse_duration(v).map_err(|e| CliError::usage(format!("{flag}: {e}")))
    };
    let interval = parse("--interval", &a.interval)?.max(Duration::from_millis(100));
    let stuck = parse("--stuck-after", &a.stuck_after)?.as_secs_f64();
    if !output::stdout_is_tty() || !output::stdin_is_tty() {
        return Err(CliError::usage("ciq top needs a terminal")
            .with_hint("for scripts use `ciq status --json`, or `ciq status --watch 2s`"));
    }
    let broker = ctx.broker().await?;
    let mut term = ratatui::try_init()
        .map_err(|e| CliError::failure(format!("cannot set up the terminal: {e}")))?;
    let res = event_loop(&mut term, &broker, ctx, a.read_only, interval, stuck).await;
    ratatui::restore();
    res.map(|_| ExitCode::SUCCESS)
}

async fn event_loop(
    term: &mut ratatui::DefaultTerminal,
    broker: &Broker,
    ctx: &Ctx,
    read_only: bool,
    interval: Duration,
    stuck: f64,
) -> CliResult<()> {
    let mut app = App::new(read_only);
    let io = |e: std::io::Error| CliError::failure(format!("terminal: {e}"));
    let mut next = Instant::now();
    while !app.quit {
        if Instant::now() >= next {
            let snap = model::collect(ctx, broker, &mut app.rates, stuck).await;
            app.settle(snap.status.queues.len());
            app.snap = Some(snap);
            next = Instant::now() + interval;
        }
        term.draw(|f| view::draw(f, &app)).map_err(io)?;
        let wait = next.saturating_duration_since(Instant::now());
        // Every key of a burst (two arrows in one read) is handled before the next frame
        // and the next refresh: none waits behind a slow read of Redis.
        let mut ready = event::poll(wait).map_err(io)?;
        while ready && !app.quit {
            if let Event::Key(k) = event::read().map_err(io)? {
                if k.kind == KeyEventKind::Press {
                    if let Some(action) =
                        app.on_key(k.code, k.modifiers.contains(KeyModifiers::CONTROL))
                    {
                        app.message = Some(match apply(broker, &action).await {
                            Ok(m) => m,
                            Err(e) => format!("failed: {e}"),
                        });
                        next = Instant::now();
                    }
                }
            }
            ready = event::poll(Duration::ZERO).map_err(io)?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn app() -> App {
        App::new(false)
    }

    #[test]
    fn arrows_pressed_before_the_first_refresh_still_move_the_selection() {
        let mut a = app();
        a.on_key(KeyCode::Down, false);
        a.on_key(KeyCode::Down, false);
        a.settle(3);
        assert_eq!(a.selected, 2);
        a.on_key(KeyCode::Up, false);
        assert_eq!(a.selected, 2, "no snapshot in this test: the press waits");
        a.settle(3);
        assert_eq!(a.selected, 1);
        // Fewer queues after a refresh: still on one of them.
        a.selected = 4;
        a.settle(2);
        assert_eq!(a.selected, 1);
    }
}
