//! Connecting to the platform's database: one pool per process, with timeouts, and the
//! small SQL differences between the three backends.

use super::{schema, Error, Result};
use crate::config::platform::PlatformFile;
use crate::secrets::redact_url;
use sqlx::mysql::{MySqlConnectOptions, MySqlPool, MySqlPoolOptions};
use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions};
use std::str::FromStr;
use std::time::Duration;

/// A pool on one of the three backends.
#[derive(Clone, Debug)]
pub enum Db {
    MySql(MySqlPool),
    Postgres(PgPool),
    Sqlite(SqlitePool),
}

/// Runs `$body` with `$p` bound to the concrete pool (the statement text is the same;
/// sqlx checks types per backend).
#[macro_export]
#[doc(hidden)]
macro_rules! on_db {
    ($db:expr, $p:ident => $body:expr) => {
        match $db {
            $crate::platform::Db::MySql($p) => $body,
            $crate::platform::Db::Postgres($p) => $body,
            $crate::platform::Db::Sqlite($p) => $body,
        }
    };
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dialect {
    MySql,
    Postgres,
    Sqlite,
}

impl Db {
    pub fn dialect(&self) -> Dialect {
        match self {
            Db::MySql(_) => Dialect::MySql,
            Db::Postgres(_) => Dialect::Postgres,
            Db::Sqlite(_) => Dialect::Sqlite,
        }
    }

    /// Adapts a statement written with `?` placeholders (never inside a literal) and
    /// `{commit}` / `{dual}` markers.
    pub fn sql(&self, q: &str) -> String {
        let d = self.dialect();
        let q = q
            .replace(
                "{commit}",
                if d == Dialect::MySql {
                    "`commit`"
                } else {
                    "\"commit\""
                },
            )
            .replace(
                "{dual}",
                if d == Dialect::MySql {
                    " FROM DUAL"
                } else {
                    ""
                },
            );
        if d != Dialect::Postgres {
            return q;
        }
        let mut out = String::with_capacity(q.len() + 8);
        let mut n = 0;
        for c in q.chars() {
            if c == '?' {
                n += 1;
                out.push_str(&format!("${n}"));
            } else {
                out.push(c);
            }
        }
        out
    }

    pub async fn close(&self) {
        on_db!(self, p => p.close().await)
    }
}

/// Connects (failing after the configured timeout), then checks the schema; on a fresh
/// SQLite file it creates the platform's tables first.
pub async fn connect(url: &str, cfg: &PlatformFile) -> Result<Db> {
    let shown = redact_url(url);
    let timeout = cfg.db_timeout();
    let size = cfg.pool_size();
    let unreachable = |e: String| Error::Unreachable {
        url: shown.clone(),
        msg: e,
    };
    let bad = |e: sqlx::Error| Error::InvalidUrl(format!("{shown} ({e})"));
    let connecting = async {
        if url.starts_with("mysql://") || url.starts_with("mariadb://") {
            let url = url.replacen("mariadb://", "mysql://", 1);
            let o = MySqlConnectOptions::from_str(&url).map_err(bad)?;
            MySqlPoolOptions::new()
                .max_connections(size)
                .acquire_timeout(timeout)
                .connect_with(o)
                .await
                .map(Db::MySql)
                .map_err(|e| unreachable(e.to_string()))
        } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            let o = PgConnectOptions::from_str(url).map_err(bad)?;
            PgPoolOptions::new()
                .max_connections(size)
                .acquire_timeout(timeout)
                .connect_with(o)
                .await
                .map(Db::Postgres)
                .map_err(|e| unreachable(e.to_string()))
        } else if url.starts_with("sqlite:") {
            let o = SqliteConnectOptions::from_str(url)
                .map_err(bad)?
                .create_if_missing(true)
                .journal_mode(SqliteJournalMode::Wal)
                .busy_timeout(Duration::from_secs(10))
                .foreign_keys(true);
            SqlitePoolOptions::new()
                .max_connections(size)
                .acquire_timeout(timeout.max(Duration::from_secs(10)))
                .connect_with(o)
                .await
                .map(Db::Sqlite)
                .map_err(|e| unreachable(e.to_string()))
        } else {
            Err(Error::InvalidUrl(shown.clone()))
        }
    };
    let db = tokio::time::timeout(timeout + Duration::from_secs(1), connecting)
        .await
        .map_err(|_| {
            unreachable(format!(
                "no connection within {}",
                humantime::format_duration(timeout)
            ))
        })??;
    schema::ensure(&db, &shown).await?;
    Ok(db)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A pool on the backend `url` names that never connects (only its dialect is used).
    fn lazy(url: &str) -> Db {
        match url.split(':').next() {
            Some("sqlite") => SqlitePoolOptions::new().connect_lazy(url).map(Db::Sqlite),
            Some("postgres") => PgPoolOptions::new().connect_lazy(url).map(Db::Postgres),
            _ => MySqlPoolOptions::new().connect_lazy(url).map(Db::MySql),
        }
        .expect("lazy pool")
    }

    #[tokio::test]
    async fn placeholders_and_quoting_per_backend() {
        let lite = lazy("sqlite::memory:");
        let q = "SELECT {commit} FROM test WHERE id = ? AND platform = ?";
        assert_eq!(
            lite.sql(q),
            "SELECT \"commit\" FROM test WHERE id = ? AND platform = ?"
        );
        let pg = lazy("postgres://u@127.0.0.1/x");
        assert_eq!(
            pg.sql(q),
            "SELECT \"commit\" FROM test WHERE id = $1 AND platform = $2"
        );
        let my = lazy("mysql://u@127.0.0.1/x");
        assert_eq!(
            my.sql("SELECT 1{dual} WHERE {commit}"),
            "SELECT 1 FROM DUAL WHERE `commit`"
        );
    }

    #[tokio::test]
    async fn bad_url_and_unreachable_server_are_distinct_errors() {
        let cfg = PlatformFile {
            db_timeout: Some(crate::config::Dur::millis(500)),
            ..Default::default()
        };
        assert!(matches!(
            connect("redis://x", &cfg).await,
            Err(Error::InvalidUrl(_))
        ));
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .map(|a| a.port())
            .expect("free port");
        let e = connect(&format!("postgres://u:pw@127.0.0.1:{port}/x"), &cfg)
            .await
            .expect_err("nothing listens there");
        assert!(matches!(e, Error::Unreachable { .. }), "{e}");
        assert!(!e.to_string().contains("pw"), "{e}");
    }
}
