//! The beat's own metrics: whether this process leads, its fires per entry, and each
//! entry's last and next fire time and failure streak as recorded in Redis.

use super::{FloatGauge, Part};
use crate::broker::Broker;
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;
use std::collections::BTreeMap;
use std::sync::atomic::AtomicI64;
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

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct EntryLabel {
    entry: String,
}

async fn render(broker: &Broker, holder: &str, entries: &[String], fires: &Fires) -> String {
    let mut reg = Registry::default();
    if let Ok(leader) = broker.beat_leader().await {
        let g = Gauge::<i64, AtomicI64>::default();
        g.set(leader.is_some_and(|l| l.holder == holder) as i64);
        reg.register(
            "ciq_beat_is_leader",
            "1 while this beat process holds the leader lease (only the leader fires)",
            g,
        );
    }
    let fired = Family::<EntryLabel, Counter>::default();
    let last = Family::<EntryLabel, FloatGauge>::default();
    let next = Family::<EntryLabel, FloatGauge>::default();
    let failing = Family::<EntryLabel, Gauge>::default();
    reg.register(
        "ciq_beat_fires",
        "Fire times this beat process fired for a schedule entry",
        fired.clone(),
    );
    reg.register(
        "ciq_beat_last_fire_timestamp_seconds",
        "When the entry last fired (any beat), Unix seconds",
        last.clone(),
    );
    reg.register(
        "ciq_beat_next_fire_timestamp_seconds",
        "When the entry fires next, Unix seconds; in the past means overdue",
        next.clone(),
    );
    reg.register(
        "ciq_beat_entry_consecutive_failures",
        "Failed tasks of the entry in a row (0 after a success)",
        failing.clone(),
    );
    for e in entries {
        let l = EntryLabel { entry: e.clone() };
        fired.get_or_create(&l).inc_by(fires.get(e));
        let Ok(s) = broker.beat_entry(e).await else {
            continue;
        };
        if let Some(ms) = s.last_fire_ms {
            last.get_or_create(&l).set(ms as f64 / 1000.0);
        }
        if let Some(ms) = s.next_fire_ms {
            next.get_or_create(&l).set(ms as f64 / 1000.0);
        }
        failing.get_or_create(&l).set(s.consecutive_failures as i64);
    }
    super::encode(&reg)
}
