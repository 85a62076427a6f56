//! Done and failed per minute over the last hour, from samples of the queue's stats
//! counters kept in Redis (`ciq:{Q}:rate`): whoever samples (each running `ciq web`)
//! writes at most one sample per minute (HSETNX), so several dashboards agree and a
//! restart of `ciq web` keeps the hour it had.

use super::{Broker, QueueKeys, Result};

/// Minutes of samples kept.
pub const KEEP_MIN: u64 = 61;

impl Broker {
    /// Records this minute's counters once (bounded: 3 commands plus a trim of at most
    /// `KEEP_MIN` + a few fields).
    pub async fn sample_rates(&self, queue: &str, now_ms: u64) -> Result<()> {
        let q = QueueKeys::new(queue);
        let mut c = self.conn();
        let minute = now_ms / 60_000;
        let (done, failed, fields): (Option<u64>, Option<u64>, Vec<String>) = redis::pipe()
            .hget(&q.stats, "done")
            .hget(&q.stats, "failed")
            .hkeys(q.rate_samples())
            .query_async(&mut c)
            .await
            .map_err(|e| self.err(e))?;
        let old: Vec<&String> = fields
            .iter()
            .filter(|f| f.parse::<u64>().map_or(true, |m| m + KEEP_MIN < minute))
            .collect();
        let mut p = redis::pipe();
        p.hset_nx(
            q.rate_samples(),
            minute,
            format!("{},{}", done.unwrap_or(0), failed.unwrap_or(0)),
        );
        if !old.is_empty() {
            p.hdel(q.rate_samples(), old);
        }
        p.query_async::<()>(&mut c).await.map_err(|e| self.err(e))
    }

    /// (minute, done, failed) samples, oldest first.
    pub async fn rate_samples(&self, queue: &str) -> Result<Vec<(u64, u64, u64)>> {
        let mut c = self.conn();
        let all: std::collections::HashMap<String, String> = redis::cmd("HGETALL")
            .arg(QueueKeys::new(queue).rate_samples())
            .query_async(&mut c)
            .await
            .map_err(|e| self.err(e))?;
        let mut out: Vec<(u64, u64, u64)> = all
            .iter()
            .filter_map(|(m, v)| {
                let (d, f) = v.split_once(',')?;
                Some((m.parse().ok()?, d.parse().ok()?, f.parse().ok()?))
            })
            .collect();
        out.sort();
        Ok(out)
    }
}

/// Per-minute (done, failed) from cumulative samples: the difference between samples,
/// spread evenly over the minutes between them (a dashboard may not sample every minute).
pub fn per_minute(samples: &[(u64, u64, u64)]) -> Vec<(u64, f64, f64)> {
    samples
        .windows(2)
        .map(|w| {
            let (m0, d0, f0) = w[0];
            let (m1, d1, f1) = w[1];
            let span = (m1 - m0).max(1) as f64;
            (
                m1,
                d1.saturating_sub(d0) as f64 / span,
                f1.saturating_sub(f0) as f64 / span,
            )
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rates_are_differences_spread_over_the_minutes_between_samples() {
        let r = per_minute(&[(10, 100, 1), (11, 160, 1), (13, 200, 5)]);
        assert_eq!(r, vec![(11, 60.0, 0.0), (13, 20.0, 2.0)]);
        assert!(per_minute(&[(1, 1, 1)]).is_empty());
    }
}
