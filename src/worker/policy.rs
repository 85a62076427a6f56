//! Retry policy: exponential backoff with full jitter, and what an outcome becomes.

use super::handler::Outcome;
use crate::broker::finish::{Finish, FinishKind};
use crate::broker::Envelope;
use crate::config::TaskConfig;
use rand::Rng;
use std::time::Duration;

/// Full jitter: uniform in [0, min(cap, base * 2^(attempt-1))].
pub fn backoff(base: Duration, cap: Duration, attempt: u32) -> Duration {
    let exp = base.saturating_mul(1u32 << attempt.saturating_sub(1).min(30));
    let ceiling = exp.min(cap).as_millis() as u64;
    Duration::from_millis(rand::thread_rng().gen_range(0..=ceiling))
}

/// Turns a handler's outcome into the finish record for Redis.
/// `token` is the claim token of the run that produced the outcome.
pub fn finish_for(
    mut env: Envelope,
    token: u64,
    outcome: &Outcome,
    task: Option<&TaskConfig>,
) -> Finish {
    let attempt = env.attempt;
    // Whatever is stored of it from here on has a record (this outcome writes it): the
    // mark goes (see finish.lua, which reads no record of a marked message).
    let marked_at = env.take_history_mark();
    let (kind, delay_ms) = match outcome {
        Outcome::Done(_) => (FinishKind::Done, 0),
        Outcome::Retry { error, after } => {
            env.last_error = Some(truncate(error));
            if env.attempt <= env.max_retries {
                let delay = after.unwrap_or_else(|| match task {
                    Some(t) => backoff(t.backoff.0, t.backoff_max.0, env.attempt),
                    None => Duration::from_secs(1),
                });
                env.attempt += 1;
                (FinishKind::Retry, delay.as_millis() as u64)
            } else {
                env.reason = Some(format!(
                    "retries exhausted after {} attempt(s)",
                    env.attempt
                ));
                (FinishKind::Dead, 0)
            }
        }
        Outcome::Fail { error } => {
            env.last_error = Some(truncate(error));
            env.reason = Some("failed permanently".into());
            (FinishKind::Failed, 0)
        }
        Outcome::Defer { reason, after } => {
            env.last_error = Some(truncate(&format!("deferred: {reason}")));
            env.deferrals += 1;
            (FinishKind::Defer, after.as_millis() as u64)
        }
    };
    let envelope = if let Outcome::Done(out) = outcome {
        out.as_deref().map(truncate).unwrap_or_default()
    } else {
        env.to_json()
    };
    // The record takes its fields from the envelope (stored above, or not at all).
    Finish {
        id: env.id,
        token,
        kind,
        envelope,
        delay_ms,
        unique_key: env.unique_key,
        task: env.task,
        attempt,
        marked_at,
    }
}

/// A poison message: dead at once with the reason.
pub fn poison(mut env: Envelope, token: u64, reason: String) -> Finish {
    env.reason = Some(reason);
    stored(env, token, FinishKind::Dead)
}

/// A run this worker stopped itself (not an attempt): see `fencing`.
pub(crate) fn fenced(mut env: Envelope, token: u64, why: String) -> Finish {
    env.deliveries += 1;
    env.last_error = Some(why);
    stored(env, token, FinishKind::Fenced)
}

/// An unfinished run handed back to pending at a stop (not an attempt).
pub(crate) fn requeue(mut env: Envelope, token: u64) -> Finish {
    env.deliveries += 1;
    stored(env, token, FinishKind::Requeue)
}

/// The finish record that stores `env` as it now is.
/// A marked message (`"h":true`) is stored unmarked: this outcome writes its record.
fn stored(mut env: Envelope, token: u64, kind: FinishKind) -> Finish {
    let marked_at = env.take_history_mark();
    Finish {
        marked_at,
        envelope: env.to_json(),
        id: env.id,
        token,
        kind,
        delay_ms: 0,
        unique_key: env.unique_key,
        task: env.task,
        attempt: env.attempt,
    }
}

/// Kept errors are bounded so one chatty runner cannot bloat Redis.
/// The tail of an error for storage and logs, with any URL password masked (a runner
/// may print a connection string).
fn truncate(s: &str) -> String {
    const MAX: usize = 2000;
    let s = &crate::secrets::redact_url(s);
    if s.len() <= MAX {
        return s.to_string();
    }
    let mut cut = s.len() - MAX;
    while !s.is_char_boundary(cut) {
        cut += 1;
    }
    format!("…{}", &s[cut..])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_is_bounded_by_cap_and_exponent() {
        let base = Duration::from_secs(1);
        let cap = Duration::from_secs(10);
        for attempt in 1..40 {
            let d = backoff(base, cap, attempt);
            assert!(d <= cap);
            assert!(d <= base * 2u32.pow(attempt.min(20) - 1));
        }
    }

    #[test]
    fn truncates_from_the_front() {
        let s = "x".repeat(5000) + "END";
        let t = truncate(&s);
        assert!(t.ends_with("END") && t.len() < 2100);
    }
}
