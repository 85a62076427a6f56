//! Throwaway SQL databases on the test's MariaDB or PostgreSQL server.

/// Creates database `name` through the server at `admin_url` and connects to it at `url`,
/// loading `ddl` when given. When the server is unreachable the panic names `server` and
/// says `hint` (how to start it or point the tests elsewhere).
pub async fn create_database<DB: sqlx::Database>(
    admin_url: &str,
    name: &str,
    url: &str,
    ddl: Option<&str>,
    server: &str,
    hint: &str,
) -> sqlx::Pool<DB>
where
    for<'c> &'c mut DB::Connection: sqlx::Executor<'c, Database = DB>,
{
    let admin = sqlx::Pool::<DB>::connect(admin_url)
        .await
        .unwrap_or_else(|e| panic!("{server} at {admin_url} is unreachable ({e}); {hint}"));
    sqlx::raw_sql(&format!("CREATE DATABASE {name}"))
        .execute(&admin)
        .await
        .expect("create database");
    admin.close().await;
    let p = sqlx::Pool::<DB>::connect(url)
        .await
        .expect("connect test database");
    if let Some(ddl) = ddl {
        sqlx::raw_sql(ddl).execute(&p).await.expect("load DDL");
    }
    p
}

/// The first two columns of each row (rows of text, as the tests' `strings` return them).
pub fn first_two_columns(rows: Vec<Vec<String>>) -> Vec<(String, String)> {
    rows.into_iter()
        .map(|r| (r[0].clone(), r[1].clone()))
        .collect()
}
