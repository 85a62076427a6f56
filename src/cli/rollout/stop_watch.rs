//! The live view of a worker stop for `rollback` and `migrate-from-cron`: what the
//! stopping worker waits for (read from its heartbeat in Redis, on a thread of its own so
//! the blocking `systemctl stop` is not held up), and Ctrl-C taken as "cut it" when
//! pressed twice while the worker stop runs.

use crate::broker::{now_ms, Broker, BrokerOptions};
use crate::rollout::stop::StopWatch;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// A worker whose heartbeat is older than this is not counted as stopping.
const FRESH_MS: u64 = 30_000;

pub struct LiveStop {
    broker_url: String,
    options: BrokerOptions,
    /// The latest reading (`None` = Redis did not answer); filled by the reader thread.
    latest: Arc<Mutex<Option<Vec<String>>>>,
    /// Tells the reader thread to end.
    quit: Arc<AtomicBool>,
    reader: bool,
    /// Set by SIGINT while the stop runs.
    pressed: Arc<AtomicBool>,
    /// True outside a worker stop: SIGINT then does what it always does (ends ciq).
    default_sigint: Arc<AtomicBool>,
    presses: u32,
    say: Box<dyn FnMut(&str)>,
}

impl LiveStop {
    pub fn new(ctx: &crate::cli::Ctx, say: Box<dyn FnMut(&str)>) -> LiveStop {
        LiveStop {
            broker_url: ctx.config.broker.value.clone(),
            options: ctx.config.broker_options.clone(),
            latest: Arc::new(Mutex::new(Some(vec![]))),
            quit: Arc::new(AtomicBool::new(false)),
            reader: false,
            pressed: Arc::new(AtomicBool::new(false)),
            default_sigint: Arc::new(AtomicBool::new(true)),
            presses: 0,
            say,
        }
    }

    /// Starts the reader thread and takes over Ctrl-C, at the first question.
    fn begin(&mut self) {
        if self.reader {
            return;
        }
        self.reader = true;
        self.default_sigint.store(false, Ordering::SeqCst);
        // Registered for good, but only acting while a stop runs: outside it, the
        // conditional default ends ciq as an unhandled SIGINT would.
        let _ = signal_hook::flag::register_conditional_default(
            signal_hook::consts::SIGINT,
            self.default_sigint.clone(),
        );
        let _ = signal_hook::flag::register(signal_hook::consts::SIGINT, self.pressed.clone());
        let (url, options) = (self.broker_url.clone(), self.options.clone());
        let (latest, quit) = (self.latest.clone(), self.quit.clone());
        std::thread::spawn(move || {
            let Ok(rt) = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            else {
                *latest.lock().unwrap() = None;
                return;
            };
            rt.block_on(read_loop(url, options, latest, quit));
        });
    }
}

async fn read_loop(
    url: String,
    options: BrokerOptions,
    latest: Arc<Mutex<Option<Vec<String>>>>,
    quit: Arc<AtomicBool>,
) {
    let mut broker: Option<Broker> = None;
    while !quit.load(Ordering::SeqCst) {
        let read = async {
            if broker.is_none() {
                broker = Some(Broker::connect_with(&url, &options).await.ok()?);
            }
            let infos = broker.as_ref()?.worker_infos().await.ok()?;
            Some(stopping_lines(&infos, now_ms()))
        };
        let got = tokio::time::timeout(Duration::from_secs(3), read)
            .await
            .ok()
            .flatten();
        if got.is_none() {
            broker = None;
        }
        *latest.lock().unwrap() = got;
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

/// One line per run a stopping worker waits for, from the workers' registry entries:
/// `start_test test 7 on w1@host (running 12 s; a platform start is waited for up to 600 s)`.
pub fn stopping_lines(infos: &[(String, u64)], now_ms: u64) -> Vec<String> {
    let mut out = vec![];
    for (info, seen) in infos {
        if now_ms.saturating_sub(*seen) > FRESH_MS {
            continue;
        }
        let Ok(v) = serde_json::from_str::<serde_json::Value>(info) else {
            continue;
        };
        let worker = v["id"].as_str().unwrap_or("?");
        for w in v["stopping"]["waiting_for"]
            .as_array()
            .into_iter()
            .flatten()
        {
            let task = w["task"].as_str().unwrap_or("?");
            let what = match w["args"].get("test_id") {
                Some(id) => format!("{task} test {id}"),
                None => format!("{task} {}", w["args"]),
            };
            let running = w["running_s"].as_u64().unwrap_or(0);
            let why = match w["finish_within_s"].as_u64() {
                Some(b) => format!("a platform start is waited for up to {b} s"),
                None => "until the worker's shutdown timeout".into(),
            };
            out.push(format!("{what} on {worker} (running {running} s; {why})"));
        }
    }
    out
}

impl StopWatch for LiveStop {
    fn waiting_for(&mut self) -> Option<Vec<String>> {
        self.begin();
        self.latest.lock().unwrap().clone()
    }

    fn say(&mut self, line: &str) {
        (self.say)(line)
    }

    fn cut_requested(&mut self) -> bool {
        self.begin();
        if self.pressed.swap(false, Ordering::SeqCst) {
            self.presses += 1;
            if self.presses == 1 {
                (self.say)("Ctrl-C: the worker is still stopping. Press Ctrl-C again to cut what it waits for (a cut platform start leaves a half-made VM, which the platform's orphan scan deletes).");
            }
        }
        self.presses >= 2
    }

    fn done(&mut self) {
        self.quit.store(true, Ordering::SeqCst);
        self.default_sigint.store(true, Ordering::SeqCst);
    }
}

impl Drop for LiveStop {
    fn drop(&mut self) {
        self.done();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_stopping_workers_waits_are_one_line_each_and_stale_workers_are_left_out() {
        let stopping = r#"{"id":"w1","stopping":{"since_ms":1,"past_timeout":true,"waiting_for":[
            {"task":"start_test","args":{"test_id":7},"running_s":12,"finish_within_s":600},
            {"task":"noop","args":{"sleep_ms":5},"running_s":3}]}}"#;
        let running = r#"{"id":"w2","stopping":null}"#;
        let lines = stopping_lines(
            &[
                (stopping.into(), 100_000),
                (running.into(), 100_000),
                (stopping.replace("w1", "w3"), 1_000),
            ],
            100_500,
        );
        assert_eq!(
            lines,
            vec![
                "start_test test 7 on w1 (running 12 s; a platform start is waited for up to 600 s)",
                "noop {\"sleep_ms\":5} on w1 (running 3 s; until the worker's shutdown timeout)",
            ]
        );
    }
}
