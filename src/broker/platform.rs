//! Redis bookkeeping for the platform tasks: when each pending test was first seen, and
//! which `start_test` task holds the claim on a VM name.

use super::{keys, Broker, Result};
use redis::AsyncCommands;
use std::collections::{HashMap, HashSet};

/// A start claim note outlives any retry schedule but does not pile up forever.
const CLAIM_TTL_SECS: u64 = 2 * 24 * 3600;

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
        let mut c = self.conn();
        let m: HashMap<String, u64> = c
            .hgetall(keys::platform_first_seen())
            .await
            .map_err(|e| self.err(e))?;
        Ok(m.into_iter()
            .filter_map(|(k, v)| k.parse().ok().map(|k| (k, v)))
            .collect())
    }

    /// Notes that task `task_id` claimed `vm_name`.
    pub async fn set_start_claim(&self, vm_name: &str, task_id: &str) -> Result<()> {
        let mut c = self.conn();
        c.set_ex(keys::platform_start_claim(vm_name), task_id, CLAIM_TTL_SECS)
            .await
            .map_err(|e| self.err(e))
    }

    /// The task that claimed `vm_name`, if ciq noted one.
    pub async fn start_claim(&self, vm_name: &str) -> Result<Option<String>> {
        let mut c = self.conn();
        c.get(keys::platform_start_claim(vm_name))
            .await
            .map_err(|e| self.err(e))
    }
}
