//! Every statement ciq runs against the platform's tables — all reads: ciq never writes
//! the platform's database (the bridge runs the platform's own code for that).
//! Statements are written once with `?` placeholders (`Db::sql` adapts them) and run on
//! whichever backend is configured. `gcp_instance.timestamp` is the platform's local
//! time, which is the local time of the host ciq runs on.

use super::{Db, Result, TestId};
use crate::on_db;
use chrono::NaiveDateTime;
use sqlx::Row;

/// True when the platform is switched off: the platform reads the *first*
/// `maintenance_mode` row of the platform (`.first()`, i.e. the lowest id) and checks
/// `disabled`; later rows are ignored, exactly as the platform ignores them.
pub async fn in_maintenance(db: &Db, platform: &str) -> Result<bool> {
    let q = db.sql("SELECT disabled FROM maintenance_mode WHERE platform = ? ORDER BY id LIMIT 1");
    Ok(on_db!(db, p => {
        match sqlx::query(&q).bind(platform).fetch_optional(p).await? {
            Some(r) => r.try_get::<bool, _>(0)?,
            None => false,
        }
    }))
}

/// A pending test: no completed/canceled progress row and no `gcp_instance` row — the
/// tests `gcp_instance` in mod_ci/controllers.py hands to `start_test`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Pending {
    pub id: TestId,
    /// It has (non-final) progress rows: the platform's `start_test` skips such a test
    /// ("already has progress entries"), so starting it is pointless.
    pub has_progress: bool,
}

/// Pending tests of a platform, oldest first. The platform writes this as
/// `Test.id.notin_(running_tests)`; with SQL's NOT IN a single `gcp_instance` row with a
/// NULL `test_id` makes that return nothing at all. ciq uses NOT EXISTS, which ignores
/// such rows (`platform check` warns about them).
pub async fn pending(db: &Db, platform: &str, limit: u32) -> Result<Vec<Pending>> {
    let q = db.sql(
        "SELECT t.id, CASE WHEN EXISTS (SELECT 1 FROM test_progress a WHERE a.test_id = t.id) \
             THEN 1 ELSE 0 END FROM test t WHERE t.platform = ? \
         AND NOT EXISTS (SELECT 1 FROM test_progress p \
             WHERE p.test_id = t.id AND p.status IN ('completed', 'canceled')) \
         AND NOT EXISTS (SELECT 1 FROM gcp_instance g WHERE g.test_id = t.id) \
         ORDER BY t.id LIMIT ?",
    );
    Ok(on_db!(db, p => {
        let rows = sqlx::query(&q).bind(platform).bind(i64::from(limit)).fetch_all(p).await?;
        rows.iter()
            .map(|r| Ok(Pending { id: r.try_get::<i32, _>(0)?, has_progress: truthy(r, 1)? }))
            .collect::<std::result::Result<Vec<_>, sqlx::Error>>()?
    }))
}

/// `gcp_instance` rows with a NULL `test_id` (they hide every test from the platform's
/// own pending query).
pub async fn instances_without_test(db: &Db) -> Result<Vec<String>> {
    let q = "SELECT name FROM gcp_instance WHERE test_id IS NULL ORDER BY name";
    Ok(on_db!(db, p => {
        sqlx::query(q).fetch_all(p).await?.iter()
            .map(|r| r.try_get::<String, _>(0))
            .collect::<std::result::Result<Vec<_>, sqlx::Error>>()?
    }))
}

/// Every instance with a test: (test id, when the row was written, platform local time).
/// The platform writes the row right after it created the VM, so this is when a test
/// was started (by the cron or by ciq).
pub async fn instances(db: &Db) -> Result<Vec<(TestId, NaiveDateTime)>> {
    let q = "SELECT test_id, timestamp FROM gcp_instance WHERE test_id IS NOT NULL";
    Ok(on_db!(db, p => {
        sqlx::query(q).fetch_all(p).await?.iter()
            .map(|r| Ok((r.try_get::<i32, _>(0)?, r.try_get::<NaiveDateTime, _>(1)?)))
            .collect::<std::result::Result<Vec<_>, sqlx::Error>>()?
    }))
}

/// A platform-local timestamp as ms since the epoch.
pub fn local_ms(t: NaiveDateTime) -> u64 {
    use chrono::TimeZone;
    chrono::Local
        .from_local_datetime(&t)
        .earliest()
        .map(|d| d.timestamp_millis().max(0) as u64)
        .unwrap_or(0)
}

/// A 0/1 column whichever integer type the backend gives it.
fn truthy<R: Row>(r: &R, i: usize) -> std::result::Result<bool, sqlx::Error>
where
    usize: sqlx::ColumnIndex<R>,
    i64: for<'a> sqlx::Decode<'a, R::Database> + sqlx::Type<R::Database>,
    i32: for<'a> sqlx::Decode<'a, R::Database> + sqlx::Type<R::Database>,
{
    match r.try_get::<i64, _>(i) {
        Ok(v) => Ok(v != 0),
        Err(_) => Ok(r.try_get::<i32, _>(i)? != 0),
    }
}
