//! The tables and columns ciq needs, checked at connect time. ciq creates them only in a
//! fresh SQLite file (its embedded default); anywhere else it names what is missing and
//! changes nothing.

use super::{Db, Error, Result};
use crate::on_db;
use sqlx::Row;
use std::collections::{BTreeMap, BTreeSet};

/// The platform's SQLite DDL (a copy of the platform's own `sqlite.sql`).
pub const SQLITE_DDL: &str = include_str!("schema/sqlite.sql");

/// Table -> columns ciq reads (discovery; ciq writes none).
pub const REQUIRED: &[(&str, &[&str])] = &[
    ("test", &["id", "platform"]),
    ("test_progress", &["test_id", "status"]),
    ("gcp_instance", &["name", "test_id", "timestamp"]),
    ("maintenance_mode", &["id", "platform", "disabled"]),
];

/// What is missing, as `table x` or `column x.y`, in a stable order.
pub fn missing(found: &BTreeMap<String, BTreeSet<String>>) -> Vec<String> {
    let mut out = vec![];
    for (table, cols) in REQUIRED {
        match found.get(*table) {
            None => out.push(format!("table {table}")),
            Some(have) => out.extend(
                cols.iter()
                    .filter(|c| !have.contains(**c))
                    .map(|c| format!("column {table}.{c}")),
            ),
        }
    }
    out
}

/// Every (table, column) in the current database/schema, lower-cased.
async fn columns(db: &Db) -> Result<BTreeMap<String, BTreeSet<String>>> {
    let q = match db {
        Db::MySql(_) => "SELECT CAST(TABLE_NAME AS CHAR), CAST(COLUMN_NAME AS CHAR) FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = DATABASE()",
        Db::Postgres(_) => "SELECT table_name::text, column_name::text FROM information_schema.columns WHERE table_schema = current_schema()",
        Db::Sqlite(_) => "SELECT m.name, p.name FROM sqlite_master m JOIN pragma_table_info(m.name) p WHERE m.type = 'table'",
    };
    let pairs: Vec<(String, String)> = on_db!(db, p => {
        sqlx::query(q)
            .fetch_all(p)
            .await?
            .iter()
            .map(|r| Ok((r.try_get::<String, _>(0)?, r.try_get::<String, _>(1)?)))
            .collect::<std::result::Result<Vec<_>, sqlx::Error>>()?
    });
    let mut m: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for (t, c) in pairs {
        m.entry(t.to_lowercase())
            .or_default()
            .insert(c.to_lowercase());
    }
    Ok(m)
}

/// Checks the schema; a SQLite file without any of the platform's tables gets them.
pub async fn ensure(db: &Db, shown_url: &str) -> Result<()> {
    let found = columns(db).await?;
    let mut miss = missing(&found);
    let fresh = REQUIRED.iter().all(|(t, _)| !found.contains_key(*t));
    if let (Db::Sqlite(p), true) = (db, fresh) {
        tracing::info!(database = %shown_url, "creating the platform tables in a new SQLite database");
        if let Err(e) = sqlx::raw_sql(SQLITE_DDL).execute(p).await {
            // Another process may have created them at the same moment.
            tracing::debug!(error = %e, "creating tables failed; checking again");
        }
        miss = missing(&columns(db).await?);
    }
    if miss.is_empty() {
        Ok(())
    } else {
        Err(Error::Schema {
            url: shown_url.to_string(),
            missing: miss,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_each_missing_table_and_column() {
        let mut found: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
        for (t, cols) in REQUIRED {
            found.insert(t.to_string(), cols.iter().map(|c| c.to_string()).collect());
        }
        assert!(missing(&found).is_empty());
        found.remove("gcp_instance");
        if let Some(t) = found.get_mut("test") {
            t.remove("platform");
        }
        assert_eq!(
            missing(&found),
            vec![
                "column test.platform".to_string(),
                "table gcp_instance".to_string()
            ]
        );
    }

    #[tokio::test]
    async fn creates_tables_only_in_a_fresh_sqlite_file() {
        let dir = tempfile::tempdir().expect("tempdir");
        let url = format!("sqlite://{}", dir.path().join("p.db").display());
        let cfg = crate::config::platform::PlatformFile::default();
        let db = super::super::db::connect(&url, &cfg)
            .await
            .expect("created");
        db.close().await;
        // A file with some other table is not ciq's: it is checked, not migrated.
        let other = format!("sqlite://{}", dir.path().join("other.db").display());
        let o = sqlx::sqlite::SqliteConnectOptions::from_str(&other)
            .expect("url")
            .create_if_missing(true);
        let p = sqlx::SqlitePool::connect_with(o).await.expect("open");
        sqlx::query("CREATE TABLE test (id INTEGER PRIMARY KEY)")
            .execute(&p)
            .await
            .expect("create");
        p.close().await;
        let e = super::super::db::connect(&other, &cfg)
            .await
            .expect_err("incomplete schema");
        let msg = e.to_string();
        assert!(
            msg.contains("column test.platform") && msg.contains("table gcp_instance"),
            "{msg}"
        );
    }

    use std::str::FromStr;
}
