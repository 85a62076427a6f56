//! The two ways the fault tests run a task: the built-in `noop`, and the `exec` runner
//! production uses, with a recording script. Each records which task ids ran, so a test
//! can check runs by identity.

use super::{Ciq, Redis};
use std::collections::HashMap;

/// The recording script: appends `<task id> <pid>` (and the time in ms when `REC_STAMP`
/// is set) to `starts` when it starts and to `ends` when it finishes; `$1` is the mode
/// (`ok`, `retry` = exit 75, `fail` = exit 1), `$2` seconds to sleep (`0` = none: no
/// extra process per task).
const RECORDER: &str = r#"#!/bin/sh
t=; [ -z "$REC_STAMP" ] || t=" $(date +%s%3N)"
echo "$CIQ_TASK_ID $$$t" >> "$REC_DIR/starts"
[ "$2" = 0 ] || sleep "$2"
[ -z "$REC_STAMP" ] || t=" $(date +%s%3N)"
echo "$CIQ_TASK_ID $$$t" >> "$REC_DIR/ends"
case "$1" in
  retry) exit 75 ;;
  fail) exit 1 ;;
esac
"#;

/// Declares `name::noop` and `name::exec` running `body(Via)`: a behaviour tested both
/// through the built-in `noop` and through the `exec` runner.
macro_rules! via_both {
    ($name:ident, $body:path) => {
        test_each!(
            $name,
            $body,
            noop => crate::harness::via::Via::Noop,
            exec => crate::harness::via::Via::Exec,
        );
    };
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Via {
    Noop,
    Exec,
}

/// What a task does: sleep this long, then finish this way.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    Ok,
    Retry,
    Fail,
}

impl Via {
    /// The task name to enqueue.
    pub fn task(self) -> &'static str {
        match self {
            Via::Noop => "noop",
            Via::Exec => "rec",
        }
    }

    /// Writes `ciq.toml`: the task (with `task_settings`, e.g. `max_retries = 2`) and `extra`.
    pub fn config(self, ciq: &Ciq, task_settings: &str, extra: &str) {
        self.config_with(ciq, task_settings, extra, false)
    }

    /// As `config`; with `stamp` the recording script also writes times (one more
    /// process per record).
    pub fn config_with(self, ciq: &Ciq, task_settings: &str, extra: &str, stamp: bool) {
        let task = match self {
            Via::Noop => format!("[tasks.noop]\n{task_settings}\n"),
            Via::Exec => {
                let script = ciq.dir().join("rec.sh");
                std::fs::write(&script, RECORDER).expect("write rec.sh");
                format!(
                    "[tasks.rec]\n{task_settings}\nrunner = {{ exec = [\"sh\", \"{}\", \"{{mode}}\", \"{{sleep}}\"], env = {{ REC_DIR = \"{}\"{} }} }}\n",
                    script.display(),
                    ciq.dir().display(),
                    if stamp { ", REC_STAMP = \"1\"" } else { "" }
                )
            }
        };
        ciq.config(&format!("{task}\n{extra}\n"));
    }

    /// Enqueues the task (sleeping `sleep_ms`, then finishing as `mode`); returns its id.
    pub fn enqueue(self, ciq: &Ciq, sleep_ms: u64, mode: Mode) -> String {
        let a = self.args(sleep_ms, mode);
        ciq.ok(&["enqueue", self.task(), "--args-json", &a])
            .trim()
            .to_string()
    }

    /// The task's args as JSON.
    pub fn args(self, sleep_ms: u64, mode: Mode) -> String {
        match self {
            Via::Noop => {
                let mut a = serde_json::json!({"record": RUNS_KEY});
                if sleep_ms > 0 {
                    a["sleep_ms"] = sleep_ms.into();
                }
                match mode {
                    Mode::Ok => {}
                    Mode::Retry => a["fail"] = "retry".into(),
                    Mode::Fail => a["fail"] = "fail".into(),
                }
                a.to_string()
            }
            Via::Exec => {
                let mode = match mode {
                    Mode::Ok => "ok",
                    Mode::Retry => "retry",
                    Mode::Fail => "fail",
                };
                serde_json::json!({"mode": mode, "sleep": format!("{}", sleep_ms as f64 / 1000.0)})
                    .to_string()
            }
        }
    }

    /// Ids of the runs that reached the end of the task body, in order (noop records
    /// after its sleep; the script appends to `ends`).
    pub fn finished(self, ciq: &Ciq, redis: &Redis) -> Vec<String> {
        match self {
            Via::Noop => redis.list(RUNS_KEY),
            Via::Exec => ids(&lines(ciq, "ends")),
        }
    }

    /// Ids of the runs that started (exec only records starts; for noop, the finished runs).
    pub fn started(self, ciq: &Ciq, redis: &Redis) -> Vec<String> {
        match self {
            Via::Noop => self.finished(ciq, redis),
            Via::Exec => ids(&lines(ciq, "starts")),
        }
    }

    /// How many runs finished, cheaply (for polling loops).
    pub fn finished_count(self, ciq: &Ciq, redis: &Redis) -> usize {
        match self {
            Via::Noop => redis.int(&["LLEN", RUNS_KEY]) as usize,
            Via::Exec => std::fs::read(ciq.dir().join("ends"))
                .map(|b| b.iter().filter(|&&c| c == b'\n').count())
                .unwrap_or(0),
        }
    }
}

/// Where `noop` records the ids it ran.
pub const RUNS_KEY: &str = "ciq:bench:runs";

/// One line the recording script wrote.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Run {
    pub id: String,
    pub pid: u32,
    /// Unix time in ms, when the script was told to stamp.
    pub ms: Option<u64>,
}

/// The lines the recording script wrote to `name` (`starts` or `ends`), in order.
pub fn lines(ciq: &Ciq, name: &str) -> Vec<Run> {
    std::fs::read_to_string(ciq.dir().join(name))
        .unwrap_or_default()
        .lines()
        .map(|l| {
            let mut f = l.split(' ');
            let (id, pid, ms) = (f.next(), f.next(), f.next());
            Run {
                id: id.unwrap_or_default().to_string(),
                pid: pid
                    .and_then(|p| p.parse().ok())
                    .unwrap_or_else(|| panic!("bad record line {l:?}")),
                ms: ms.map(|m| m.parse().unwrap_or_else(|_| panic!("bad time in {l:?}"))),
            }
        })
        .collect()
}

fn ids(lines: &[Run]) -> Vec<String> {
    lines.iter().map(|r| r.id.clone()).collect()
}

pub fn counts(ids: &[String]) -> HashMap<String, usize> {
    let mut m = HashMap::new();
    for id in ids {
        *m.entry(id.clone()).or_default() += 1;
    }
    m
}
