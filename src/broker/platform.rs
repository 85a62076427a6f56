//! Redis bookkeeping for the platform tasks: when each pending test was first seen, the
//! shadow-stage evidence (what ciq saw vs. what the cron started), and the last cron-guard
//! decision. ciq never adds tables to the platform's database.

use super::{keys, Broker, Result};
use redis::AsyncCommands;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, HashMap, HashSet};

/// Evidence older than this is dropped (a shadow stage lasts days, not months).
const SHADOW_KEEP_MS: u64 = 30 * 24 * 3600 * 1000;

/// What the shadow stage showed: of the tests started (by the cron) since the watch began,
/// how many ciq had seen pending before, and how much earlier.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ShadowEvidence {
    /// ms when the shadow watch began (None: it never ran).
    pub since: Option<u64>,
    /// Tests started since then.
    pub started: usize,
    /// Of those, seen pending by ciq before their start.
    pub seen_before: usize,
    /// Median of (started − first seen), ms.
    pub median_lead_ms: Option<u64>,
    /// Started tests ciq never saw pending (ascending ids).
    pub missed: Vec<i64>,
}

impl ShadowEvidence {
    /// "ciq saw 57 of 57 tests the cron started, a median 4m10s earlier; missed: none"
    pub fn summary(&self) -> String {
        if self.since.is_none() {
            return "no shadow evidence: ciq has not watched the platform in shadow mode".into();
        }
        let lead = self
            .median_lead_ms
            .map(|ms| {
                format!(
                    ", a median {} earlier",
                    humantime::format_duration(std::time::Duration::from_secs(ms / 1000))
                )
            })
            .unwrap_or_default();
        let missed = if self.missed.is_empty() {
            "none".to_string()
        } else {
            let ids: Vec<String> = self.missed.iter().take(10).map(|i| i.to_string()).collect();
            let more = self.missed.len().saturating_sub(10);
            if more > 0 {
                format!("{} (+{more} more)", ids.join(", "))
            } else {
                ids.join(", ")
            }
        };
        format!(
            "ciq saw {} of {} tests the cron started{lead}; missed: {missed}",
            self.seen_before, self.started
        )
    }

    /// Computes the evidence from the raw maps (test id -> ms).
    pub fn from_maps(
        since: Option<u64>,
        seen: &HashMap<i64, u64>,
        started: &HashMap<i64, u64>,
    ) -> ShadowEvidence {
        let Some(since) = since else {
            return ShadowEvidence::default();
        };
        let mut leads = vec![];
        let mut missed = vec![];
        let mut n = 0;
        // The platform's timestamps may have whole seconds only (MySQL DATETIME).
        const SLACK: u64 = 999;
        for (id, at) in started.iter().filter(|(_, at)| **at + SLACK >= since) {
            n += 1;
            match seen.get(id) {
                Some(first) if *first <= at + SLACK => leads.push(at.saturating_sub(*first)),
                _ => missed.push(*id),
            }
        }
        leads.sort_unstable();
        missed.sort_unstable();
        ShadowEvidence {
            since: Some(since),
            started: n,
            seen_before: leads.len(),
            median_lead_ms: (!leads.is_empty()).then(|| leads[leads.len() / 2]),
            missed,
        }
    }
}

impl Broker {
    /// Records `now` for newly pending tests and forgets tests that are no longer pending.
    pub async fn note_pending(&self, pending: &[i64], now: u64) -> Result<()> {
        let key = keys::platform_first_seen();
        let mut c = self.conn();
        let known: Vec<String> = c.hkeys(&key).await.map_err(|e| self.err(e))?;
        let current: HashSet<String> = pending.iter().map(|i| i.to_string()).collect();
        let mut p = redis::pipe();
        let gone: Vec<&String> = known.iter().filter(|k| !current.contains(*k)).collect();
        if !gone.is_empty() {
            p.hdel(&key, gone).ignore();
        }
        for id in &current {
            p.hset_nx(&key, id, now).ignore();
        }
        p.query_async::<()>(&mut c).await.map_err(|e| self.err(e))
    }

    /// Test id -> ms when it was first seen pending.
    pub async fn first_seen(&self) -> Result<HashMap<i64, u64>> {
        self.id_map(&keys::platform_first_seen()).await
    }

    async fn id_map(&self, key: &str) -> Result<HashMap<i64, u64>> {
        let mut c = self.conn();
        let m: HashMap<String, u64> = c.hgetall(key).await.map_err(|e| self.err(e))?;
        Ok(m.into_iter()
            .filter_map(|(k, v)| k.parse().ok().map(|k| (k, v)))
            .collect())
    }

    /// Shadow stage: notes the tests seen pending now and the starts the platform
    /// recorded (test id -> ms of its `gcp_instance` row); starts the watch if needed.
    pub async fn note_shadow(
        &self,
        pending: &[i64],
        started: &BTreeMap<i64, u64>,
        now: u64,
    ) -> Result<()> {
        let began: bool = self
            .conn()
            .set_nx(keys::platform_shadow_since(), now)
            .await
            .map_err(|e| self.err(e))?;
        // One pipeline per key: on Redis Cluster each key may live on another node.
        let mut seen = redis::pipe();
        for id in pending {
            seen.hset_nx(keys::platform_shadow_seen(), id, now).ignore();
        }
        let mut starts = redis::pipe();
        for (id, at) in started {
            // Tests already running when the watch began are not evidence either way.
            starts
                .hset_nx(
                    keys::platform_shadow_started(),
                    id,
                    if began { 0 } else { *at },
                )
                .ignore();
        }
        for p in [seen, starts].iter().filter(|p| !p.is_empty()) {
            p.query_async::<()>(&mut self.conn())
                .await
                .map_err(|e| self.err(e))?;
        }
        self.trim_shadow(now).await
    }

    async fn trim_shadow(&self, now: u64) -> Result<()> {
        let cutoff = now.saturating_sub(SHADOW_KEEP_MS);
        for key in [
            keys::platform_shadow_seen(),
            keys::platform_shadow_started(),
        ] {
            let old: Vec<i64> = self
                .id_map(&key)
                .await?
                .into_iter()
                // 0 marks a test running before the watch began: kept, so it stays out.
                .filter(|(_, at)| *at > 0 && *at < cutoff)
                .map(|(id, _)| id)
                .collect();
            if !old.is_empty() {
                self.conn()
                    .hdel::<_, _, ()>(&key, old)
                    .await
                    .map_err(|e| self.err(e))?;
            }
        }
        Ok(())
    }

    pub async fn shadow_evidence(&self) -> Result<ShadowEvidence> {
        let since: Option<u64> = self
            .conn()
            .get(keys::platform_shadow_since())
            .await
            .map_err(|e| self.err(e))?;
        let seen = self.id_map(&keys::platform_shadow_seen()).await?;
        let started = self.id_map(&keys::platform_shadow_started()).await?;
        Ok(ShadowEvidence::from_maps(since, &seen, &started))
    }

    /// Forgets the shadow evidence (a new shadow stage starts from scratch).
    pub async fn reset_shadow(&self) -> Result<()> {
        let _: () = self
            .conn()
            .del(&[
                keys::platform_shadow_since(),
                keys::platform_shadow_seen(),
                keys::platform_shadow_started(),
            ])
            .await
            .map_err(|e| self.err(e))?;
        Ok(())
    }

    /// Stores the last cron-guard decision (JSON) for `status`.
    pub async fn set_guard_last(&self, json: &str) -> Result<()> {
        let _: () = self
            .conn()
            .set(keys::platform_guard_last(), json)
            .await
            .map_err(|e| self.err(e))?;
        Ok(())
    }

    pub async fn guard_last(&self) -> Result<Option<String>> {
        self.conn()
            .get(keys::platform_guard_last())
            .await
            .map_err(|e| self.err(e))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn evidence_counts_starts_since_the_watch_and_leads() {
        let seen = HashMap::from([(1, 1_000), (2, 2_000), (4, 9_000)]);
        let started = HashMap::from([(1, 61_000), (2, 242_000), (3, 5_000), (4, 8_000), (0, 10)]);
        let e = ShadowEvidence::from_maps(Some(5_000), &seen, &started);
        assert_eq!(e.started, 4);
        assert_eq!(e.seen_before, 2);
        assert_eq!(e.missed, vec![3, 4]);
        assert_eq!(e.median_lead_ms, Some(240_000));
        assert_eq!(
            e.summary(),
            "ciq saw 2 of 4 tests the cron started, a median 4m earlier; missed: 3, 4"
        );
        assert!(ShadowEvidence::from_maps(None, &seen, &started)
            .summary()
            .starts_with("no shadow evidence"));
    }
}
