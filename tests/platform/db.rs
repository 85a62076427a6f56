//! A fresh platform database per test on SQLite, MariaDB/MySQL or PostgreSQL, built from
//! the repo's copy of the platform DDL and dropped at the end. The servers come from
//! `CIQ_TEST_MYSQL` / `CIQ_TEST_POSTGRES` (server URLs without a database), defaulting to
//! the machine's local servers on 127.0.0.1 (MariaDB as root, PostgreSQL as postgres;
//! the admin connections use the `mysql` and `postgres` databases every server has).
//! An unreachable server fails the test: it never passes silently. Each database is
//! named `ciq_t_<ulid>` and is dropped on Drop from the moment it is created, even when
//! the test (or loading the DDL) panics; a failed drop is reported, never ignored.

use crate::harness::databases::{create_database, first_two_columns};
use ciq::on_db;
use ciq::platform::Db;
use sqlx::Row;
use std::path::PathBuf;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    MySql,
    Postgres,
}

pub struct TestDb {
    pub backend: Backend,
    /// The URL ciq is given.
    pub url: String,
    pub name: String,
    pub db: Db,
    pub rt: tokio::runtime::Runtime,
    _dir: Option<tempfile::TempDir>,
    /// Dropped after `db` is closed (TestDb's Drop closes it): drops the database.
    _guard: DropDatabase,
}

fn admin_url(b: Backend) -> String {
    match b {
        Backend::Sqlite => String::new(),
        Backend::MySql => format!("{}/mysql", server(b)),
        Backend::Postgres => format!("{}/postgres", server(b)),
    }
}

fn server(b: Backend) -> String {
    match b {
        Backend::Sqlite => String::new(),
        Backend::MySql => {
            std::env::var("CIQ_TEST_MYSQL").unwrap_or_else(|_| "mysql://root@127.0.0.1:3306".into())
        }
        Backend::Postgres => std::env::var("CIQ_TEST_POSTGRES")
            .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432".into()),
    }
}

fn rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime")
}

/// Drops a test database when dropped; a failure is a test failure (or, while already
/// panicking, a message on stderr).
struct DropDatabase {
    backend: Backend,
    name: String,
}

impl DropDatabase {
    fn run(&self) -> Result<(), String> {
        let admin = admin_url(self.backend);
        let drop_sql = format!("DROP DATABASE IF EXISTS {}", self.name);
        rt().block_on(async {
            match self.backend {
                Backend::Sqlite => Ok(()),
                Backend::MySql => {
                    let a = sqlx::MySqlPool::connect(&admin)
                        .await
                        .map_err(|e| e.to_string())?;
                    let r = sqlx::raw_sql(&drop_sql).execute(&a).await;
                    a.close().await;
                    r.map(|_| ()).map_err(|e| e.to_string())
                }
                Backend::Postgres => {
                    let a = sqlx::PgPool::connect(&admin)
                        .await
                        .map_err(|e| e.to_string())?;
                    let r = sqlx::raw_sql(&format!("{drop_sql} WITH (FORCE)"))
                        .execute(&a)
                        .await;
                    a.close().await;
                    r.map(|_| ()).map_err(|e| e.to_string())
                }
            }
        })
    }
}

impl Drop for DropDatabase {
    fn drop(&mut self) {
        if let Err(e) = self.run() {
            let msg = format!(
                "could not drop test database {} ({:?}): {e}",
                self.name, self.backend
            );
            if std::thread::panicking() {
                eprintln!("{msg}");
            } else {
                panic!("{msg}");
            }
        }
    }
}

/// Whether a database of this name exists on the backend's server.
pub fn database_exists(b: Backend, name: &str) -> bool {
    let admin = admin_url(b);
    rt().block_on(async {
        match b {
            Backend::Sqlite => false,
            Backend::MySql => {
                count::<sqlx::MySql>(
                    &admin,
                    "MariaDB",
                    &format!(
                    "SELECT COUNT(*) FROM information_schema.SCHEMATA WHERE SCHEMA_NAME = '{name}'"
                ),
                )
                .await
                    > 0
            }
            Backend::Postgres => {
                count::<sqlx::Postgres>(
                    &admin,
                    "PostgreSQL",
                    &format!("SELECT COUNT(*) FROM pg_database WHERE datname = '{name}'"),
                )
                .await
                    > 0
            }
        }
    })
}

/// The COUNT(*) that `sql` selects, on the `server` at `admin_url`.
async fn count<DB: sqlx::Database>(admin_url: &str, server: &str, sql: &str) -> i64
where
    for<'c> &'c mut DB::Connection: sqlx::Executor<'c, Database = DB>,
    for<'q> DB::Arguments<'q>: sqlx::IntoArguments<'q, DB>,
    i64: sqlx::Type<DB> + for<'r> sqlx::Decode<'r, DB>,
    usize: sqlx::ColumnIndex<DB::Row>,
{
    let a = sqlx::Pool::<DB>::connect(admin_url)
        .await
        .unwrap_or_else(|e| panic!("connect {server}: {e}"));
    let n: i64 = sqlx::query_scalar(sql)
        .fetch_one(&a)
        .await
        .expect("list databases");
    a.close().await;
    n
}

fn schema_file(b: Backend) -> PathBuf {
    let f = match b {
        Backend::Sqlite => "sqlite.sql",
        Backend::MySql => "mysql.sql",
        Backend::Postgres => "postgres.sql",
    };
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("src/platform/schema")
        .join(f)
}

impl TestDb {
    /// A database with the platform's full schema.
    pub fn new(b: Backend) -> TestDb {
        Self::with_ddl(b, |ddl| ddl)
    }

    /// A database built from the platform DDL as changed by `edit`.
    pub fn with_ddl(b: Backend, edit: impl FnOnce(String) -> String) -> TestDb {
        let name = format!("ciq_t_{}", ulid::Ulid::new().to_string().to_lowercase());
        Self::create(b, &name, edit)
    }

    /// A database of this name (`ciq_t_…`) built from the edited DDL.
    pub fn create(b: Backend, name: &str, edit: impl FnOnce(String) -> String) -> TestDb {
        let ddl = edit(std::fs::read_to_string(schema_file(b)).expect("read the schema copy"));
        let rt = rt();
        let name = name.to_string();
        let admin_url = admin_url(b);
        let (url, dir) = match b {
            Backend::Sqlite => {
                let dir = tempfile::tempdir().expect("tempdir");
                let url = format!("sqlite://{}", dir.path().join("platform.db").display());
                (url, Some(dir))
            }
            _ => (format!("{}/{name}", server(b)), None),
        };
        // From here on a panic (bad DDL, lost server) still drops the database.
        let guard = DropDatabase {
            backend: b,
            name: name.clone(),
        };
        let db = rt.block_on(async {
            match b {
                Backend::Sqlite => {
                    let o = sqlx::sqlite::SqliteConnectOptions::new()
                        .filename(url.trim_start_matches("sqlite://"))
                        .create_if_missing(true)
                        .busy_timeout(std::time::Duration::from_secs(10));
                    let p = sqlx::SqlitePool::connect_with(o)
                        .await
                        .expect("open sqlite");
                    sqlx::raw_sql(&ddl).execute(&p).await.expect("load DDL");
                    Db::Sqlite(p)
                }
                Backend::MySql => Db::MySql(
                    create_database(
                        &admin_url,
                        &name,
                        &url,
                        Some(&ddl),
                        "MariaDB/MySQL",
                        "start it or set CIQ_TEST_MYSQL",
                    )
                    .await,
                ),
                Backend::Postgres => Db::Postgres(
                    create_database(
                        &admin_url,
                        &name,
                        &url,
                        Some(&ddl),
                        "PostgreSQL",
                        "start it or set CIQ_TEST_POSTGRES",
                    )
                    .await,
                ),
            }
        });
        TestDb {
            backend: b,
            url,
            name,
            db,
            rt,
            _dir: dir,
            _guard: guard,
        }
    }

    /// Runs one statement with `?` placeholders bound to these values.
    pub fn exec(&self, sql: &str, binds: &[Bind]) {
        let q = self.db.sql(sql);
        self.rt.block_on(async {
            on_db!(&self.db, p => {
                let mut query = sqlx::query(&q);
                for b in binds {
                    query = match b {
                        Bind::I(v) => query.bind(*v),
                        Bind::S(v) => query.bind(v.clone()),
                        Bind::T(v) => query.bind(*v),
                        Bind::B(v) => query.bind(*v),
                        Bind::Null => query.bind(None::<i32>),
                    };
                }
                query.execute(p).await.map(|_| ())
            })
            .unwrap_or_else(|e| panic!("{q}: {e}"))
        })
    }

    /// Rows of text columns (cast in SQL where needed).
    pub fn strings(&self, sql: &str) -> Vec<Vec<String>> {
        let q = self.db.sql(sql);
        self.rt.block_on(async {
            on_db!(&self.db, p => {
                let rows = sqlx::query(&q).fetch_all(p).await.unwrap_or_else(|e| panic!("{q}: {e}"));
                rows.iter()
                    .map(|r| (0..r.len()).map(|i| r.try_get::<String, _>(i).unwrap_or_else(|e| panic!("{q}: column {i}: {e}"))).collect())
                    .collect()
            })
        })
    }

    /// Inserts `n` tests on `platform` with ids from `first`.
    pub fn add_tests(&self, first: i32, n: i32, platform: &str) {
        for id in first..first + n {
            self.exec(
                "INSERT INTO test (id, platform, test_type, token, branch, {commit}, pr_nr) VALUES (?, ?, 'commit', ?, 'master', 'abc123', 0)",
                &[Bind::I(id), Bind::S(platform.into()), Bind::S(format!("secret-token-{id}"))],
            );
        }
    }

    /// (status, message) of a test's progress rows, in order.
    pub fn progress(&self, test_id: i32) -> Vec<(String, String)> {
        first_two_columns(self.strings(&format!(
            "SELECT status, message FROM test_progress WHERE test_id = {test_id} ORDER BY id"
        )))
    }

    pub fn instances(&self) -> Vec<String> {
        self.strings("SELECT name FROM gcp_instance ORDER BY name")
            .into_iter()
            .map(|r| r[0].clone())
            .collect()
    }

    pub fn tables(&self) -> Vec<String> {
        let q = match self.backend {
            Backend::MySql => "SELECT CAST(TABLE_NAME AS CHAR) FROM information_schema.TABLES WHERE TABLE_SCHEMA = DATABASE() ORDER BY 1",
            Backend::Postgres => "SELECT table_name::text FROM information_schema.tables WHERE table_schema = current_schema() ORDER BY 1",
            Backend::Sqlite => "SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY 1",
        };
        self.strings(q).into_iter().map(|r| r[0].clone()).collect()
    }
}

#[derive(Clone)]
pub enum Bind {
    I(i32),
    S(String),
    T(chrono::NaiveDateTime),
    B(bool),
    /// A NULL integer.
    Null,
}

impl Drop for TestDb {
    /// Closes the pool; then `_guard` drops the database.
    fn drop(&mut self) {
        let db = self.db.clone();
        self.rt.block_on(async move { db.close().await });
    }
}
