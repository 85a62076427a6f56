//! Every statement ciq runs against the platform's tables. Statements are written once
//! with `?` placeholders (`Db::sql` adapts them) and run on whichever backend is
//! configured. Times: `test_progress.timestamp` is UTC; `gcp_instance.timestamp` is the
//! platform's local time, which is the local time of the host ciq runs on.

use super::{Db, Result, TestId};
use crate::on_db;
use chrono::NaiveDateTime;
use sqlx::Row;

pub const CANCELED: &str = "canceled";

/// Whole microseconds, as the platform (SQLAlchemy) writes them; on SQLite the text
/// then always has the same shape, so comparisons stay correct.
fn micros(t: NaiveDateTime) -> NaiveDateTime {
    use chrono::Timelike;
    t.with_nanosecond(t.nanosecond() / 1000 * 1000).unwrap_or(t)
}

/// Now in UTC (`test_progress.timestamp`).
pub fn utc_now() -> NaiveDateTime {
    micros(chrono::Utc::now().naive_utc())
}

/// Now in the platform's local time (`gcp_instance.timestamp`).
pub fn local_now() -> NaiveDateTime {
    micros(chrono::Local::now().naive_local())
}

/// The columns of `test` a start needs (never `token`: it is a secret).
#[derive(Debug, Clone, PartialEq)]
pub struct TestRow {
    pub id: TestId,
    pub platform: String,
    pub test_type: String,
    pub branch: String,
    pub commit: String,
    pub pr_nr: i32,
}

/// True when the platform is switched off (`maintenance_mode.disabled`).
pub async fn in_maintenance(db: &Db, platform: &str) -> Result<bool> {
    let q = db.sql("SELECT id FROM maintenance_mode WHERE platform = ? AND disabled = ? LIMIT 1");
    Ok(
        on_db!(db, p => sqlx::query(&q).bind(platform).bind(true).fetch_optional(p).await?.is_some()),
    )
}

/// Pending tests of a platform (DESIGN §1), oldest first.
pub async fn pending(db: &Db, platform: &str, limit: u32) -> Result<Vec<TestId>> {
    let q = db.sql(
        "SELECT t.id FROM test t WHERE t.platform = ? \
         AND NOT EXISTS (SELECT 1 FROM test_progress p \
             WHERE p.test_id = t.id AND p.status IN ('completed', 'canceled')) \
         AND NOT EXISTS (SELECT 1 FROM gcp_instance g WHERE g.test_id = t.id) \
         ORDER BY t.id LIMIT ?",
    );
    Ok(on_db!(db, p => {
        let rows = sqlx::query(&q).bind(platform).bind(i64::from(limit)).fetch_all(p).await?;
        rows.iter().map(|r| r.try_get::<i32, _>(0)).collect::<std::result::Result<Vec<_>, _>>()?
    }))
}

pub async fn test(db: &Db, id: TestId) -> Result<Option<TestRow>> {
    let q =
        db.sql("SELECT id, platform, test_type, branch, {commit}, pr_nr FROM test WHERE id = ?");
    Ok(on_db!(db, p => {
        match sqlx::query(&q).bind(id).fetch_optional(p).await? {
            None => None,
            Some(r) => Some(TestRow {
                id: r.try_get(0)?,
                platform: r.try_get(1)?,
                test_type: r.try_get(2)?,
                branch: r.try_get(3)?,
                commit: r.try_get(4)?,
                pr_nr: r.try_get(5)?,
            }),
        }
    }))
}

/// A test is finished once it has a completed or canceled progress row.
pub async fn is_finished(db: &Db, id: TestId) -> Result<bool> {
    let q = db.sql(
        "SELECT id FROM test_progress WHERE test_id = ? AND status IN ('completed', 'canceled') LIMIT 1",
    );
    Ok(on_db!(db, p => sqlx::query(&q).bind(id).fetch_optional(p).await?.is_some()))
}

/// True when the test was canceled with exactly this message (e.g. by the expiry check).
pub async fn canceled_with(db: &Db, id: TestId, message: &str) -> Result<bool> {
    let q = db.sql(
        "SELECT id FROM test_progress WHERE test_id = ? AND status = 'canceled' AND message = ? LIMIT 1",
    );
    Ok(on_db!(db, p => sqlx::query(&q).bind(id).bind(message).fetch_optional(p).await?.is_some()))
}

/// The atomic claim: inserts the `gcp_instance` row. `false` = the name is taken
/// (another starter got there first).
pub async fn claim(db: &Db, vm_name: &str, id: TestId) -> Result<bool> {
    let q = db.sql("INSERT INTO gcp_instance (name, test_id, timestamp) VALUES (?, ?, ?)");
    let r = on_db!(db, p => sqlx::query(&q).bind(vm_name).bind(id).bind(local_now()).execute(p).await.map(|_| ()));
    match r {
        Ok(()) => Ok(true),
        Err(sqlx::Error::Database(e)) if e.is_unique_violation() => Ok(false),
        Err(e) => Err(e.into()),
    }
}

/// Removes an instance row (a released claim, or a deleted VM).
pub async fn remove_instance(db: &Db, vm_name: &str) -> Result<()> {
    let q = db.sql("DELETE FROM gcp_instance WHERE name = ?");
    on_db!(db, p => sqlx::query(&q).bind(vm_name).execute(p).await.map(|_| ()))?;
    Ok(())
}

const CANCEL: &str = "INSERT INTO test_progress (test_id, status, timestamp, message) \
     SELECT ?, 'canceled', ?, ?{dual} WHERE NOT EXISTS (SELECT 1 FROM test_progress \
     WHERE test_id = ? AND status IN ('completed', 'canceled'))";

/// Fails the test with a message for contributors, unless it is already finished (one
/// statement, so two cancelers never write two rows). Returns whether a row was written.
pub async fn cancel(db: &Db, id: TestId, message: &str) -> Result<bool> {
    let q = db.sql(CANCEL);
    let now = utc_now();
    let n = on_db!(db, p => sqlx::query(&q).bind(id).bind(now).bind(message).bind(id).execute(p).await?.rows_affected());
    Ok(n > 0)
}

/// Cancels the test and releases its claim in one transaction.
pub async fn cancel_and_release(db: &Db, id: TestId, vm_name: &str, message: &str) -> Result<()> {
    let cancel = db.sql(CANCEL);
    let release = db.sql("DELETE FROM gcp_instance WHERE name = ?");
    let now = utc_now();
    on_db!(db, p => {
        let mut tx = p.begin().await?;
        sqlx::query(&cancel).bind(id).bind(now).bind(message).bind(id).execute(&mut *tx).await?;
        sqlx::query(&release).bind(vm_name).execute(&mut *tx).await?;
        tx.commit().await?;
    });
    Ok(())
}

/// Instances recorded before `cutoff` (platform local time): (name, test id).
pub async fn older_instances(
    db: &Db,
    cutoff: NaiveDateTime,
) -> Result<Vec<(String, Option<TestId>)>> {
    let q = db
        .sql("SELECT name, test_id FROM gcp_instance WHERE timestamp < ? ORDER BY timestamp, name");
    Ok(on_db!(db, p => {
        let rows = sqlx::query(&q).bind(cutoff).fetch_all(p).await?;
        rows.iter()
            .map(|r| Ok((r.try_get::<String, _>(0)?, r.try_get::<Option<i32>, _>(1)?)))
            .collect::<std::result::Result<Vec<_>, sqlx::Error>>()?
    }))
}
