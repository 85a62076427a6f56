//! When a periodic entry fires: `every` (aligned to the epoch) or a 5-field crontab
//! expression (or `@hourly`...) in an IANA time zone. The one reader of cron expressions:
//! the config check, the beat and the rollout gates all read a schedule here, so they
//! agree on crontab's rules (weekday 0 and 7 = Sunday; day-of-month OR day-of-week).
//!
//! Fire times are pure functions of the rule and the clock, so every beat process on
//! every host computes the same fire time for the same tick; that shared number is what
//! the per-(entry, fire time) idempotency key and the cursor in Redis are keyed on.

use chrono::{DateTime, TimeZone};
use chrono_tz::Tz;
use std::str::FromStr;
use std::time::Duration;

/// A parsed schedule.
#[derive(Debug, Clone)]
pub enum Rule {
    /// Fires at every multiple of the interval since the Unix epoch.
    Every(Duration),
    Cron(CronRule),
}

#[derive(Debug, Clone)]
pub struct CronRule {
    /// The expression as written (shown to operators).
    pub expr: String,
    pub tz: Tz,
    /// One schedule, or two when both day fields are restricted: crontab fires when
    /// *either* matches, the `cron` crate only when both do, so we take the earlier.
    schedules: Vec<::cron::Schedule>,
}

/// Shortest `every` accepted: fire times are kept in whole milliseconds and a tick
/// loop cannot honour anything much finer anyway.
pub const MIN_EVERY: Duration = Duration::from_secs(1);

impl Rule {
    /// From the `every`/`cron`/`timezone` fields of one entry; errors are one line
    /// naming the offending field as `(field, message)`.
    pub fn parse(
        every: Option<Duration>,
        cron: Option<&str>,
        timezone: Option<&str>,
    ) -> Result<Rule, (&'static str, String)> {
        match (every, cron) {
            (Some(_), Some(_)) => Err(("cron", "set either every or cron, not both".into())),
            (None, None) => Err((
                "every",
                "needs every = \"1m\" or cron = \"*/5 * * * *\"".into(),
            )),
            (Some(_), None) if timezone.is_some() => {
                Err(("timezone", "timezone applies to cron entries only".into()))
            }
            (Some(d), None) if d < MIN_EVERY => Err((
                "every",
                format!("must be at least {}", humantime::format_duration(MIN_EVERY)),
            )),
            (Some(d), None) => Ok(Rule::Every(d)),
            (None, Some(expr)) => {
                let tz = match timezone {
                    None => Tz::UTC,
                    Some(name) => Tz::from_str(name.trim()).map_err(|_| {
                        (
                            "timezone",
                            format!("unknown time zone {name:?}; use an IANA name such as Europe/Berlin or UTC"),
                        )
                    })?,
                };
                let schedules = parse_cron(expr)
                    .map_err(|m| ("cron", format!("invalid cron expression {expr:?}: {m}")))?;
                let rule = Rule::Cron(CronRule {
                    expr: expr.trim().to_string(),
                    tz,
                    schedules,
                });
                if rule.next_after(now_ms()).is_none() {
                    return Err(("cron", format!("cron expression {expr:?} never fires")));
                }
                Ok(rule)
            }
        }
    }

    /// The first fire time strictly after `t_ms`.
    pub fn next_after(&self, t_ms: u64) -> Option<u64> {
        match self {
            Rule::Every(d) => {
                let e = every_ms(*d);
                (t_ms / e).checked_add(1)?.checked_mul(e)
            }
            Rule::Cron(c) => c.next_after(t_ms),
        }
    }

    /// The last fire time at or before `t_ms`.
    pub fn prev_at_or_before(&self, t_ms: u64) -> Option<u64> {
        match self {
            Rule::Every(d) => {
                let e = every_ms(*d);
                Some(t_ms / e * e)
            }
            Rule::Cron(c) => c.prev_at_or_before(t_ms),
        }
    }

    /// The gap between the first two fire times after `t_ms`: how often the entry fires
    /// (for a cron rule, as seen from `t_ms`).
    pub fn interval_ms(&self, t_ms: u64) -> Option<u64> {
        let first = self.next_after(t_ms)?;
        Some(self.next_after(first)? - first)
    }

    /// Human text stored beside the entry and shown by `inspect scheduled`; a change in
    /// it tells the beat that the operator edited the schedule.
    pub fn describe(&self) -> String {
        match self {
            Rule::Every(d) => format!("every {}", humantime::format_duration(*d)),
            Rule::Cron(c) => format!("cron {} ({})", c.expr, c.tz.name()),
        }
    }
}

fn every_ms(d: Duration) -> u64 {
    (d.as_millis() as u64).max(1)
}

fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

impl CronRule {
    fn at(&self, t_ms: u64) -> Option<DateTime<Tz>> {
        self.tz
            .timestamp_millis_opt(i64::try_from(t_ms).ok()?)
            .single()
    }

    fn next_after(&self, t_ms: u64) -> Option<u64> {
        let after = self.at(t_ms)?;
        self.schedules
            .iter()
            .filter_map(|s| {
                // In a repeated (fall-back) hour the crate yields the earlier instant of
                // an ambiguous time even when it lies before `after`; skip those.
                s.after(&after)
                    .take(4)
                    .map(|c| c.timestamp_millis())
                    .find(|&c| c > t_ms as i64)
            })
            .min()
            .and_then(|c| u64::try_from(c).ok())
    }

    fn prev_at_or_before(&self, t_ms: u64) -> Option<u64> {
        let from = self.at(t_ms.checked_add(1)?)?;
        self.schedules
            .iter()
            .filter_map(|s| {
                s.after(&from)
                    .rev()
                    .take(4)
                    .map(|c| c.timestamp_millis())
                    .find(|&c| c <= t_ms as i64)
            })
            .max()
            .and_then(|c| u64::try_from(c).ok())
    }
}

/// Parses a crontab expression (5 fields, or @hourly/@daily/...) into `cron` crate
/// schedules (which want a seconds field and number weekdays 1 = Sunday).
fn parse_cron(expr: &str) -> Result<Vec<::cron::Schedule>, String> {
    let expr = expr.trim();
    let expanded = match expr.to_ascii_lowercase().as_str() {
        "@hourly" => "0 * * * *",
        "@daily" | "@midnight" => "0 0 * * *",
        "@weekly" => "0 0 * * 0",
        "@monthly" => "0 0 1 * *",
        "@yearly" | "@annually" => "0 0 1 1 *",
        s if s.starts_with('@') => return Err(format!("unknown shorthand {expr}")),
        _ => expr,
    };
    let f: Vec<&str> = expanded.split_whitespace().collect();
    if f.len() != 5 {
        return Err(format!(
            "expected 5 fields (minute hour day-of-month month day-of-week), got {}",
            f.len()
        ));
    }
    let any = |s: &str| s == "*" || s == "?";
    let dow = weekdays_for_crate(f[4])?;
    let build = |dom: &str, dow: &str| {
        let six = format!("0 {} {} {} {} {}", f[0], f[1], dom, f[3], dow);
        // The crate's message echoes our 6-field form and a caret line: keep its last line.
        ::cron::Schedule::from_str(&six).map_err(|e| {
            let msg = e.to_string();
            let last = msg
                .lines()
                .map(str::trim)
                .rfind(|l| !l.is_empty() && *l != "^");
            last.unwrap_or("cannot parse").to_string()
        })
    };
    if !any(f[2]) && !any(f[4]) {
        Ok(vec![build(f[2], "*")?, build("*", &dow)?])
    } else {
        Ok(vec![build(f[2], &dow)?])
    }
}

/// Crontab weekdays (0-7, 0 and 7 = Sunday, names, ranges, steps) as the `cron`
/// crate's ordinals (1 = Sunday ... 7 = Saturday), expanded to a list.
fn weekdays_for_crate(field: &str) -> Result<String, String> {
    if field == "*" || field == "?" {
        return Ok("*".into());
    }
    let mut days = [false; 7];
    for item in field.split(',') {
        let (range, step) = match item.split_once('/') {
            Some((r, s)) => {
                let s: u32 = s
                    .parse()
                    .ok()
                    .filter(|s| *s > 0)
                    .ok_or_else(|| format!("bad step in day-of-week {item:?}"))?;
                (r, Some(s))
            }
            None => (item, None),
        };
        let (lo, hi) = match range.split_once('-') {
            _ if range == "*" => (0, 6),
            Some((a, b)) => (weekday(a)?, weekday(b)?),
            None if step.is_some() => (weekday(range)?, 6),
            None => (weekday(range)?, weekday(range)?),
        };
        if lo > hi {
            return Err(format!("day-of-week range {range:?} runs backwards"));
        }
        for d in (lo..=hi).step_by(step.unwrap_or(1) as usize) {
            days[(d % 7) as usize] = true;
        }
    }
    Ok((0..7)
        .filter(|&d| days[d])
        .map(|d| (d + 1).to_string())
        .collect::<Vec<_>>()
        .join(","))
}

fn weekday(s: &str) -> Result<u32, String> {
    const NAMES: [&str; 7] = ["sun", "mon", "tue", "wed", "thu", "fri", "sat"];
    let l = s.to_ascii_lowercase();
    if let Some(i) = NAMES.iter().position(|n| *n == l) {
        return Ok(i as u32);
    }
    s.parse::<u32>()
        .ok()
        .filter(|d| *d <= 7)
        .ok_or_else(|| format!("bad day of week {s:?} (use 0-7 or sun..sat)"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(s: &str) -> u64 {
        chrono::DateTime::parse_from_rfc3339(s)
            .unwrap()
            .timestamp_millis() as u64
    }

    fn cron(expr: &str, tz: &str) -> Rule {
        Rule::parse(None, Some(expr), Some(tz)).unwrap()
    }

    #[test]
    fn every_is_aligned_to_the_epoch() {
        let r = Rule::parse(Some(Duration::from_secs(60)), None, None).unwrap();
        assert_eq!(r.next_after(60_000), Some(120_000));
        assert_eq!(r.next_after(61_500), Some(120_000));
        assert_eq!(r.prev_at_or_before(119_999), Some(60_000));
        assert_eq!(r.prev_at_or_before(120_000), Some(120_000));
        assert_eq!(r.describe(), "every 1m");
    }

    #[test]
    fn cron_in_utc_and_in_a_time_zone() {
        let r = cron("*/5 * * * *", "UTC");
        let t = ms("2026-01-10T10:07:30Z");
        assert_eq!(r.next_after(t), Some(ms("2026-01-10T10:10:00Z")));
        assert_eq!(r.prev_at_or_before(t), Some(ms("2026-01-10T10:05:00Z")));
        assert_eq!(
            r.prev_at_or_before(ms("2026-01-10T10:05:00Z")),
            Some(ms("2026-01-10T10:05:00Z"))
        );
        // 09:00 in Berlin is 08:00 UTC in winter.
        let b = cron("0 9 * * *", "Europe/Berlin");
        assert_eq!(
            b.next_after(ms("2026-01-10T07:00:00Z")),
            Some(ms("2026-01-10T08:00:00Z"))
        );
        assert_eq!(b.describe(), "cron 0 9 * * * (Europe/Berlin)");
    }

    #[test]
    fn weekdays_use_crontab_numbering() {
        // 2026-01-10 is a Saturday; "1-5" is Monday to Friday.
        let r = cron("0 9 * * 1-5", "UTC");
        assert_eq!(
            r.next_after(ms("2026-01-10T12:00:00Z")),
            Some(ms("2026-01-12T09:00:00Z"))
        );
        let sun = cron("0 9 * * 7", "UTC");
        assert_eq!(
            sun.next_after(ms("2026-01-10T12:00:00Z")),
            Some(ms("2026-01-11T09:00:00Z"))
        );
        assert_eq!(weekdays_for_crate("*/2").unwrap(), "1,3,5,7");
        assert_eq!(
            weekdays_for_crate("fri-sun").unwrap_err(),
            "day-of-week range \"fri-sun\" runs backwards"
        );
        assert_eq!(weekdays_for_crate("5-7").unwrap(), "1,6,7");
    }

    #[test]
    fn both_day_fields_mean_either() {
        // The 15th (a Thursday) or any Monday.
        let r = cron("0 0 15 * 1", "UTC");
        assert_eq!(
            r.next_after(ms("2026-01-13T00:00:00Z")),
            Some(ms("2026-01-15T00:00:00Z"))
        );
        assert_eq!(
            r.next_after(ms("2026-01-16T00:00:00Z")),
            Some(ms("2026-01-19T00:00:00Z"))
        );
    }

    #[test]
    fn dst_transitions_do_not_crash_or_repeat() {
        // Spring forward: 02:30 does not exist in New York on 2026-03-08.
        let r = cron("30 2 * * *", "America/New_York");
        let n = r.next_after(ms("2026-03-08T05:00:00Z")).unwrap();
        assert!(n > ms("2026-03-08T05:00:00Z"));
        // Fall back: 01:30 happens twice on 2026-11-01; a daily job fires once that day.
        let f = cron("30 1 * * *", "America/New_York");
        let first = f.next_after(ms("2026-11-01T04:00:00Z")).unwrap();
        assert_eq!(first, ms("2026-11-01T05:30:00Z"));
        let second = f.next_after(first).unwrap();
        assert_eq!(second, ms("2026-11-02T06:30:00Z"));
        // Every 15 minutes moves forward through the repeated hour (the `cron` crate
        // skips its second pass: one 75-minute gap a year, never a repeat).
        let q = cron("*/15 * * * *", "America/New_York");
        let mut t = ms("2026-11-01T04:50:00Z");
        for _ in 0..12 {
            let n = q.next_after(t).unwrap();
            assert!(n > t && n - t <= 75 * 60_000, "{t} -> {n}");
            t = n;
        }
        // Starting inside the second pass never yields a time in the past.
        let inside = ms("2026-11-01T06:20:00Z");
        assert!(q.next_after(inside).unwrap() > inside);
        assert!(q.prev_at_or_before(inside).unwrap() <= inside);
    }

    #[test]
    fn shorthands_and_errors() {
        assert!(Rule::parse(None, Some("@hourly"), None).is_ok());
        let bad = |e: &str| Rule::parse(None, Some(e), None).unwrap_err();
        assert_eq!(bad("* * *").0, "cron");
        assert!(
            bad("* * *").1.contains("expected 5 fields"),
            "{:?}",
            bad("* * *")
        );
        let minute = bad("61 * * * *").1;
        assert!(
            minute.starts_with("invalid cron expression \"61 * * * *\""),
            "{minute}"
        );
        assert!(!minute.contains('\n'), "{minute}");
        assert!(!bad("*/x * * * *").1.contains('\n'));
        assert!(bad("0 0 30 2 *").1.contains("never fires"));
        assert!(bad("@often").1.contains("unknown shorthand"));
        let tz = Rule::parse(None, Some("* * * * *"), Some("Mars/Base")).unwrap_err();
        assert_eq!(tz.0, "timezone");
        let e = Rule::parse(Some(Duration::from_millis(10)), None, None).unwrap_err();
        assert_eq!(e.0, "every");
        assert!(Rule::parse(None, None, None).is_err());
        assert!(Rule::parse(Some(MIN_EVERY), Some("* * * * *"), None).is_err());
    }
}
