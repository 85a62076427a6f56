//! The worker plug-in for the three platform tasks. One database pool per worker
//! process, opened on first use; while the database is unreachable (or its schema is
//! incomplete) the task is retried per its policy, the worker keeps running.

use super::{db, tasks, Db};
use crate::worker::handler::{BoxFuture, Outcome, TaskContext, TaskHandler};
use tokio::sync::OnceCell;

pub const TASKS: &[&str] = &[
    "start_test",
    "process_pending_tests",
    "check_expired_instances",
];

#[derive(Default)]
pub struct PlatformTasks {
    db: OnceCell<Db>,
}

impl PlatformTasks {
    pub fn new() -> Self {
        Self::default()
    }

    async fn db(&self, ctx: &TaskContext) -> super::Result<&Db> {
        self.db
            .get_or_try_init(|| db::connect(&ctx.config.database.value, &ctx.config.platform))
            .await
    }
}

impl TaskHandler for PlatformTasks {
    fn handles(&self, task: &str) -> bool {
        TASKS.contains(&task)
    }

    fn run<'a>(&'a self, ctx: &'a TaskContext) -> BoxFuture<'a, Outcome> {
        Box::pin(async move {
            let db = match self.db(ctx).await {
                Ok(db) => db,
                Err(e) => {
                    return Outcome::Retry {
                        error: e.to_string(),
                        after: None,
                    }
                }
            };
            let r = match ctx.envelope.task.as_str() {
                "start_test" => tasks::start::run(db, ctx).await,
                "process_pending_tests" => tasks::discover::run(db, ctx).await,
                "check_expired_instances" => tasks::expire::run(db, ctx).await,
                other => Ok(Outcome::Fail {
                    error: format!("not a platform task: {other}"),
                }),
            };
            r.unwrap_or_else(|e| Outcome::Retry {
                error: e.to_string(),
                after: None,
            })
        })
    }
}
