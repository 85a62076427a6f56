//! Which fire times are due now, given the cursor kept in Redis and the catch-up
//! policy. Pure, so the restart behaviour is tested without a clock or a Redis.

use crate::config::schedule::CatchUp;
use crate::cron::Rule;

/// What one entry should do on this tick.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Plan {
    /// Fire times to fire now, oldest first (each at most once, ever).
    pub fires: Vec<u64>,
    /// The new cursor: the first fire time after now.
    pub next: u64,
    /// Due fire times that the policy chose not to fire.
    pub missed: u64,
}

/// Inputs besides the rule.
#[derive(Debug, Clone, Copy)]
pub struct Policy {
    pub catch_up: CatchUp,
    /// `all`: at most this many fires per catch-up (the most recent ones).
    pub max: u32,
    /// `skip`: a fire time this late still counts as on time (covers a leader failover).
    pub grace_ms: u64,
}

/// Counting missed fire times stops here; a log line does not need more.
const COUNT_LIMIT: u64 = 100_000;

/// `cursor` is the stored next fire time (None: the entry was never seen, or its
/// schedule changed). A never-seen entry starts at its next fire time, unless
/// `fire_unseen` (`beat --once`, where never having run means due). Returns None when
/// nothing is due and the cursor is fine.
pub fn plan(
    rule: &Rule,
    cursor: Option<u64>,
    now: u64,
    p: Policy,
    fire_unseen: bool,
) -> Option<Plan> {
    let next = rule.next_after(now)?;
    let Some(cursor) = cursor else {
        let fires = if fire_unseen {
            rule.prev_at_or_before(now).into_iter().collect()
        } else {
            vec![]
        };
        return Some(Plan {
            fires,
            next,
            missed: 0,
        });
    };
    if cursor > now {
        // A cursor beyond the next fire time came from a clock ahead of ours or an
        // edited schedule: pull it back (the fire script still refuses any fire time
        // at or before the last one, so this cannot repeat a tick).
        return (cursor > next).then_some(Plan {
            fires: vec![],
            next,
            missed: 0,
        });
    }
    let latest = match rule.prev_at_or_before(now) {
        Some(l) if l >= cursor => l,
        _ => {
            return Some(Plan {
                fires: vec![],
                next,
                missed: 0,
            })
        }
    };
    let due = count(rule, cursor, latest);
    let fires = match p.catch_up {
        CatchUp::Skip if now - latest <= p.grace_ms => vec![latest],
        CatchUp::Skip => vec![],
        CatchUp::One => vec![latest],
        CatchUp::All => {
            let mut v = vec![latest];
            while (v.len() as u32) < p.max.max(1) {
                let Some(prev) = v
                    .last()
                    .and_then(|t| t.checked_sub(1))
                    .and_then(|t| rule.prev_at_or_before(t))
                    .filter(|t| *t >= cursor)
                else {
                    break;
                };
                v.push(prev);
            }
            v.reverse();
            v
        }
    };
    Some(Plan {
        missed: due.saturating_sub(fires.len() as u64),
        fires,
        next,
    })
}

/// Fire times in `[from, to]`, counted up to `COUNT_LIMIT`.
fn count(rule: &Rule, from: u64, to: u64) -> u64 {
    if let Rule::Every(d) = rule {
        let e = (d.as_millis() as u64).max(1);
        return (to / e)
            .saturating_sub(from.saturating_sub(1) / e)
            .min(COUNT_LIMIT);
    }
    let mut n = 0;
    let mut t = from.saturating_sub(1);
    while let Some(x) = rule.next_after(t).filter(|x| *x <= to) {
        n += 1;
        if n >= COUNT_LIMIT {
            break;
        }
        t = x;
    }
    n
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn minutely() -> Rule {
        Rule::Every(Duration::from_secs(60))
    }

    fn pol(catch_up: CatchUp) -> Policy {
        Policy {
            catch_up,
            max: 5,
            grace_ms: 10_000,
        }
    }

    const M: u64 = 60_000;

    #[test]
    fn on_time_fire_and_cursor() {
        let p = plan(
            &minutely(),
            Some(10 * M),
            10 * M + 300,
            pol(CatchUp::One),
            false,
        )
        .unwrap();
        assert_eq!(p.fires, vec![10 * M]);
        assert_eq!(p.next, 11 * M);
        assert_eq!(p.missed, 0);
        assert_eq!(
            plan(
                &minutely(),
                Some(11 * M),
                10 * M + 300,
                pol(CatchUp::One),
                false
            ),
            None
        );
    }

    #[test]
    fn an_hour_down_fires_one_catch_up_by_default() {
        let now = 70 * M + 5_000;
        let p = plan(&minutely(), Some(10 * M), now, pol(CatchUp::One), false).unwrap();
        assert_eq!(p.fires, vec![70 * M]);
        assert_eq!(p.missed, 60);
        assert_eq!(p.next, 71 * M);
    }

    #[test]
    fn skip_and_all_policies() {
        let now = 70 * M + 30_000;
        let skip = plan(&minutely(), Some(10 * M), now, pol(CatchUp::Skip), false).unwrap();
        assert!(skip.fires.is_empty());
        assert_eq!(skip.missed, 61);
        let on_time = plan(
            &minutely(),
            Some(70 * M),
            70 * M + 500,
            pol(CatchUp::Skip),
            false,
        );
        assert_eq!(on_time.unwrap().fires, vec![70 * M]);
        let all = plan(&minutely(), Some(10 * M), now, pol(CatchUp::All), false).unwrap();
        assert_eq!(all.fires, vec![66 * M, 67 * M, 68 * M, 69 * M, 70 * M]);
        assert_eq!(all.missed, 56);
        let few = plan(&minutely(), Some(68 * M), now, pol(CatchUp::All), false).unwrap();
        assert_eq!(few.fires, vec![68 * M, 69 * M, 70 * M]);
    }

    #[test]
    fn unseen_entries_wait_unless_once() {
        let now = 10 * M + 5;
        let p = plan(&minutely(), None, now, pol(CatchUp::One), false).unwrap();
        assert!(p.fires.is_empty());
        assert_eq!(p.next, 11 * M);
        let once = plan(&minutely(), None, now, pol(CatchUp::One), true).unwrap();
        assert_eq!(once.fires, vec![10 * M]);
    }

    #[test]
    fn a_cursor_far_ahead_is_pulled_back() {
        let p = plan(
            &minutely(),
            Some(99 * M),
            10 * M + 5,
            pol(CatchUp::One),
            false,
        )
        .unwrap();
        assert_eq!(p.next, 11 * M);
        assert!(p.fires.is_empty());
    }

    #[test]
    fn cron_counts_missed() {
        let r = Rule::parse(None, Some("*/5 * * * *"), None).unwrap();
        let p = plan(&r, Some(10 * M), 60 * M + 1, pol(CatchUp::One), false).unwrap();
        assert_eq!(p.fires, vec![60 * M]);
        assert_eq!(p.missed, 10);
    }
}
