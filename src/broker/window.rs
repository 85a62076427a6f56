//! One window of a queue's tasks in one state, for the web dashboard's lists: a count
//! and at most `count` entries from `offset`, in two round trips whatever the queue's
//! length (LLEN/ZCARD with LRANGE/ZRANGE, then one HMGET). Never KEYS, never a scan;
//! the running tasks are read whole (one HGETALL: as many as are running).

use super::{Broker, QueueKeys, Result};

/// Which set a window reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Listed {
    Pending,
    Active,
    Scheduled,
    Retry,
    Dead,
    /// Tasks that ended (done, failed, dead, purged, canceled) whose history is kept,
    /// by end time.
    Ended,
}

impl Listed {
    pub const ALL: [Listed; 6] = [
        Listed::Pending,
        Listed::Active,
        Listed::Scheduled,
        Listed::Retry,
        Listed::Dead,
        Listed::Ended,
    ];
    pub fn name(self) -> &'static str {
        match self {
            Listed::Pending => "pending",
            Listed::Active => "active",
            Listed::Scheduled => "scheduled",
            Listed::Retry => "retry",
            Listed::Dead => "dead",
            Listed::Ended => "ended",
        }
    }
    pub fn parse(s: &str) -> Option<Listed> {
        Listed::ALL.into_iter().find(|l| l.name() == s)
    }
    /// Pending, scheduled, retrying and running tasks read soonest first; ended ones
    /// newest first.
    pub fn newest_first_by_default(self) -> bool {
        matches!(self, Listed::Dead | Listed::Ended)
    }
}

/// One entry: the id (None for an undecodable pending message), its time (enqueued,
/// lease expiry, due, died or ended, ms) and the raw record (envelope JSON, the active
/// entry "<worker>|<token>|<claimed ms>|<envelope>", or the history lines).
#[derive(Debug, Clone)]
pub struct Entry {
    pub id: Option<String>,
    pub at_ms: u64,
    pub raw: Option<String>,
}

impl Broker {
    /// `(total in that state, entries)`; `offset` counts from the oldest end unless
    /// `newest_first`.
    pub async fn window(
        &self,
        queue: &str,
        state: Listed,
        offset: u64,
        count: u64,
        newest_first: bool,
    ) -> Result<(u64, Vec<Entry>)> {
        let q = QueueKeys::new(queue);
        let mut c = self.conn();
        let count = count.max(1) as isize;
        let off = offset as isize;
        if state == Listed::Pending {
            // LPUSH puts the newest at index 0.
            let (start, stop) = if newest_first {
                (off, off + count - 1)
            } else {
                (-(off + count), -(off + 1))
            };
            let (total, mut raws): (u64, Vec<String>) = redis::pipe()
                .llen(&q.pending)
                .lrange(&q.pending, start, stop)
                .query_async(&mut c)
                .await
                .map_err(|e| self.err(e))?;
            if !newest_first {
                raws.reverse();
            }
            let out = raws
                .into_iter()
                .map(|r| {
                    let env = super::Envelope::from_json(&r).ok();
                    Entry {
                        id: env.as_ref().map(|e| e.id.clone()),
                        at_ms: env.map_or(0, |e| e.enqueued_at),
                        raw: Some(r),
                    }
                })
                .collect();
            return Ok((total, out));
        }
        if state == Listed::Active {
            // Runs in progress: every active entry (as many as are running), with its
            // lease expiry, longest running first.
            let mut runs = self.running(&mut c, &q).await?;
            if newest_first {
                runs.reverse();
            }
            let total = runs.len() as u64;
            let out = runs
                .into_iter()
                .skip(offset as usize)
                .take(count as usize)
                .map(|r| Entry {
                    id: Some(r.id),
                    at_ms: r.lease_expires_ms,
                    raw: Some(r.entry),
                })
                .collect();
            return Ok((total, out));
        }
        let (start, stop) = (off, off + count - 1);
        let mut p = redis::pipe();
        let (items, hash, total): (Vec<(String, u64)>, &str, u64) = if state == Listed::Ended {
            // The end list, oldest first: "<end ms>|<id>", and "<end ms>|u:<key>" entries
            // (a unique key's last holder), which are not tasks and are left out.
            let (start, stop) = if newest_first {
                (-(off + count), -(off + 1))
            } else {
                (start, stop)
            };
            let (total, mut raws): (u64, Vec<String>) = p
                .llen(&q.history_ends)
                .lrange(&q.history_ends, start, stop)
                .query_async(&mut c)
                .await
                .map_err(|e| self.err(e))?;
            if newest_first {
                raws.reverse();
            }
            let items = raws
                .iter()
                .filter_map(|e| {
                    let (ms, m) = e.split_once('|')?;
                    (!m.starts_with("u:")).then(|| (m.to_string(), ms.parse().unwrap_or(0)))
                })
                .collect();
            (items, &q.history, total)
        } else {
            let (zset, hash) = match state {
                Listed::Scheduled => (&q.scheduled, &q.data),
                Listed::Retry => (&q.retry, &q.data),
                // (Pending, Active and Ended were read above.)
                _ => (&q.dead, &q.data),
            };
            p.zcard(zset);
            if newest_first {
                p.zrevrange_withscores(zset, start, stop);
            } else {
                p.zrange_withscores(zset, start, stop);
            }
            let (total, items): (u64, Vec<(String, f64)>) =
                p.query_async(&mut c).await.map_err(|e| self.err(e))?;
            let items = items.into_iter().map(|(id, s)| (id, s as u64)).collect();
            (items, hash, total)
        };
        if items.is_empty() {
            return Ok((total, vec![]));
        }
        let ids: Vec<&String> = items.iter().map(|(id, _)| id).collect();
        let raws: Vec<Option<String>> = redis::cmd("HMGET")
            .arg(hash)
            .arg(&ids)
            .query_async(&mut c)
            .await
            .map_err(|e| self.err(e))?;
        let ended = state == Listed::Ended;
        Ok((
            total,
            items
                .into_iter()
                .zip(raws)
                // An ended task appears once: at its last end (an entry of an earlier end,
                // before it was requeued and ended again, is left out).
                .filter(|((_, at_ms), raw)| {
                    !ended || raw.as_deref().and_then(super::history::ended_at) == Some(*at_ms)
                })
                .map(|((id, at_ms), raw)| Entry {
                    id: Some(id),
                    at_ms,
                    raw,
                })
                .collect(),
        ))
    }
}
