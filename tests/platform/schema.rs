//! A database without a table or column ciq needs: `ciq platform check` names each
//! missing one, exits 4 and creates nothing. An unreachable database exits 4 too.

use super::db::{Backend, TestDb};
use crate::harness::{free_port, Ciq, Redis};

fn missing_parts(b: Backend) {
    let db = TestDb::with_ddl(b, |ddl| {
        let ddl = ddl.replace("  status VARCHAR(50) NOT NULL,\n", "");
        // Drop the gcp_instance table's statement.
        let start = ddl
            .find("CREATE TABLE gcp_instance")
            .expect("gcp_instance in DDL");
        let end = start + ddl[start..].find(';').expect("statement end") + 1;
        format!("{}{}", &ddl[..start], &ddl[end..])
    });
    let before = db.tables();
    assert!(!before.contains(&"gcp_instance".to_string()));
    let redis = Redis::start();
    let ciq = Ciq::new(&redis);
    let out = ciq.run(&["platform", "check", "--database", &db.url]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(4), "{err}");
    assert!(err.contains("column test_progress.status"), "{err}");
    assert!(err.contains("table gcp_instance"), "{err}");
    assert_eq!(
        err.lines().filter(|l| l.starts_with("error:")).count(),
        1,
        "{err}"
    );
    assert_eq!(db.tables(), before, "nothing created");
}

#[test]
fn missing_table_and_column_mysql() {
    missing_parts(Backend::MySql)
}

#[test]
fn missing_table_and_column_postgres() {
    missing_parts(Backend::Postgres)
}

#[test]
fn complete_database_passes_and_unreachable_exits_4() {
    let db = TestDb::new(Backend::MySql);
    let redis = Redis::start();
    let ciq = Ciq::new(&redis);
    let out = ciq.ok(&["platform", "check", "--json", "--database", &db.url]);
    let v: serde_json::Value = serde_json::from_str(&out).expect("json");
    assert_eq!(v["backend"], "mysql");
    assert_eq!(v["platforms"][0]["platform"], "linux");
    let url = format!("postgres://u:hunter2@127.0.0.1:{}/x", free_port());
    let out = ciq.run(&["platform", "check", "--database", &url]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(4), "{err}");
    assert!(
        err.contains("unreachable") && !err.contains("hunter2"),
        "{err}"
    );
}

#[test]
fn fresh_sqlite_file_is_created() {
    let redis = Redis::start();
    let ciq = Ciq::new(&redis);
    let out = ciq.ok(&[
        "platform",
        "check",
        "--json",
        "--database",
        "sqlite://fresh.db",
    ]);
    let v: serde_json::Value = serde_json::from_str(&out).expect("json");
    assert_eq!(v["backend"], "sqlite");
    assert!(ciq.dir().join("fresh.db").exists());
}
