//! Reads of the test's MariaDB database.

use super::*;
use crate::harness::databases::first_two_columns;
use sqlx::Row;

impl RealPlatform {
    /// Rows of text columns (CAST in SQL where needed); reads only.
    pub fn strings(&self, sql: &str) -> Vec<Vec<String>> {
        self.rt.block_on(async {
            let rows = sqlx::query(sql)
                .fetch_all(&self.pool)
                .await
                .unwrap_or_else(|e| panic!("{sql}: {e}"));
            rows.iter()
                .map(|r| {
                    (0..r.len())
                        .map(|i| {
                            r.try_get::<Option<String>, _>(i)
                                .unwrap_or_else(|e| panic!("{sql}: column {i}: {e}"))
                                .unwrap_or_else(|| "NULL".into())
                        })
                        .collect()
                })
                .collect()
        })
    }

    /// (name, test_id) of the gcp_instance rows; test_id None when NULL.
    pub fn gcp_instances(&self) -> Vec<(String, Option<i64>)> {
        self.strings(
            "SELECT CAST(name AS CHAR), CAST(test_id AS CHAR) FROM gcp_instance ORDER BY name",
        )
        .into_iter()
        .map(|r| (r[0].clone(), r[1].parse().ok()))
        .collect()
    }

    /// (status, message) of a test's progress rows, in order.
    pub fn progress(&self, test_id: i64) -> Vec<(String, String)> {
        first_two_columns(self.strings(&format!(
            "SELECT CAST(status AS CHAR), CAST(message AS CHAR) FROM test_progress WHERE test_id = {test_id} ORDER BY id"
        )))
    }

    /// (vm_name, operation_name, retry_count) of the pending_deletion rows.
    pub fn pending_deletions(&self) -> Vec<(String, String, i64)> {
        self.strings("SELECT CAST(vm_name AS CHAR), CAST(operation_name AS CHAR), CAST(retry_count AS CHAR) FROM pending_deletion ORDER BY vm_name")
            .into_iter()
            .map(|r| (r[0].clone(), r[1].clone(), r[2].parse().unwrap_or(-1)))
            .collect()
    }

    pub fn tables(&self) -> Vec<String> {
        self.strings("SELECT CAST(TABLE_NAME AS CHAR) FROM information_schema.TABLES WHERE TABLE_SCHEMA = DATABASE() ORDER BY 1")
            .into_iter()
            .map(|r| r[0].clone())
            .collect()
    }
}
