//! The beat's own metrics: whether this process leads, its fires per entry, and each
//! entry's last and next fire time and failure streak as recorded in Redis.

use super::{esc, Part};
use crate::broker::Broker;
use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::{Arc, Mutex};

/// Fire times this beat process fired, per entry (a fire time another beat already
/// fired is not counted). Shared between the beat loop and the server.
#[derive(Debug, Clone, Default)]
pub struct Fires(Arc<Mutex<BTreeMap<String, u64>>>);

impl Fires {
    pub fn record(&self, entry: &str) {
        *self.0.lock().unwrap().entry(entry.into()).or_default() += 1;
    }

    fn get(&self, entry: &str) -> u64 {
        self.0.lock().unwrap().get(entry).copied().unwrap_or(0)
    }
}

/// The beat part of `/metrics`; `holder` is this beat's lease id (`BeatOptions::id`),
/// `entries` the configured schedule entry names.
pub fn part(broker: Broker, holder: String, entries: Vec<String>, fires: Fires) -> Part {
    Part::new(move || {
        let (b, h, e, f) = (
            broker.clone(),
            holder.clone(),
            entries.clone(),
            fires.clone(),
        );
        async move { render(&b, &h, &e, &f).await }
    })
}

async fn render(broker: &Broker, holder: &str, entries: &[String], fires: &Fires) -> String {
    let mut o = String::new();
    if let Ok(leader) = broker.beat_leader().await {
        let ours = leader.is_some_and(|l| l.holder == holder);
        o.push_str("# HELP ciq_beat_is_leader 1 while this beat process holds the leader lease (only the leader fires).\n# TYPE ciq_beat_is_leader gauge\n");
        let _ = writeln!(o, "ciq_beat_is_leader {}", ours as u8);
    }
    o.push_str("# HELP ciq_beat_fires_total Fire times this beat process fired for a schedule entry.\n# TYPE ciq_beat_fires_total counter\n");
    for e in entries {
        let _ = writeln!(
            o,
            "ciq_beat_fires_total{{entry=\"{}\"}} {}",
            esc(e),
            fires.get(e)
        );
    }
    let mut last = String::new();
    let mut next = String::new();
    let mut failing = String::new();
    for e in entries {
        let Ok(s) = broker.beat_entry(e).await else {
            continue;
        };
        let l = format!("entry=\"{}\"", esc(e));
        if let Some(ms) = s.last_fire_ms {
            let _ = writeln!(
                last,
                "ciq_beat_last_fire_timestamp_seconds{{{l}}} {}",
                ms as f64 / 1000.0
            );
        }
        if let Some(ms) = s.next_fire_ms {
            let _ = writeln!(
                next,
                "ciq_beat_next_fire_timestamp_seconds{{{l}}} {}",
                ms as f64 / 1000.0
            );
        }
        let _ = writeln!(
            failing,
            "ciq_beat_entry_consecutive_failures{{{l}}} {}",
            s.consecutive_failures
        );
    }
    o.push_str("# HELP ciq_beat_last_fire_timestamp_seconds When the entry last fired (any beat), Unix seconds.\n# TYPE ciq_beat_last_fire_timestamp_seconds gauge\n");
    o.push_str(&last);
    o.push_str("# HELP ciq_beat_next_fire_timestamp_seconds When the entry fires next, Unix seconds; in the past means overdue.\n# TYPE ciq_beat_next_fire_timestamp_seconds gauge\n");
    o.push_str(&next);
    o.push_str("# HELP ciq_beat_entry_consecutive_failures Failed tasks of the entry in a row (0 after a success).\n# TYPE ciq_beat_entry_consecutive_failures gauge\n");
    o.push_str(&failing);
    o
}
