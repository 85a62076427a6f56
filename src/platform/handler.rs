//! The worker plug-in for the three platform tasks. Discovery reads the platform's
//! database through one pool per worker process, opened on first use; while the database
//! is unreachable (or its schema is incomplete) the task is retried per its policy, the
//! worker keeps running. `start_test` and `maintain` run the bridge and need no pool.

use super::{db, tasks, Db};
use crate::worker::handler::{BoxFuture, Outcome, TaskContext, TaskHandler};
use tokio::sync::OnceCell;

pub use crate::config::PLATFORM_TASKS as TASKS;

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
            match ctx.envelope.task.as_str() {
                "start_test" => tasks::start::run(ctx).await,
                "maintain" => tasks::maintain::run(ctx).await,
                "process_pending_tests" => {
                    let r = match self.db(ctx).await {
                        Ok(db) => tasks::discover::run(db, ctx).await,
                        Err(e) => Err(e),
                    };
                    r.unwrap_or_else(|e| Outcome::Retry {
                        error: e.to_string(),
                        after: None,
                    })
                }
                other => Outcome::Fail {
                    error: format!("not a platform task: {other}"),
                },
            }
        })
    }
}
