//! Runner failures: a retryable cloud error twice then success starts the test; an
//! unknown error cancels it with the generic text (raw text only in the log); a
//! retryable error that never clears cancels it once retries run out; the soft time
//! limit cancels with "Task timed out".

use super::db::Backend;
use super::{on_all_backends, Env};
use crate::harness::wait_until;
use std::time::Duration;

const SCRIPT: &str = r#"
id=$1
n=$(cat "$DIR/count-$id" 2>/dev/null || echo 0)
n=$((n + 1))
echo $n > "$DIR/count-$id"
case $id in
1) if [ $n -le 2 ]; then
     echo '{"error": {"code": "ZONE_RESOURCE_POOL_EXHAUSTED", "message": "zone europe-west9-z of project secret-proj"}}'
     exit 1
   fi ;;
2) echo "calling the cloud"
   echo '{"error": {"code": "FANCY_NEW_FAILURE", "message": "raw detail: project secret-proj"}}'
   exit 1 ;;
3) echo '{"error": {"code": "QUOTA_EXCEEDED", "message": "quota of secret-proj"}}'
   exit 1 ;;
4) trap 'exit 1' TERM; sleep 30 & wait; exit 1 ;;
esac
echo $id >> "$DIR/started.txt"
"#;

fn run(b: Backend) {
    let mut env = Env::new(b);
    env.db.add_tests(1, 4, "linux");
    let script = env.script("start.sh", SCRIPT);
    let dir = env.ciq.dir().display().to_string();
    env.config(&format!(
        "max_retries = 3\nsoft_time_limit = \"1s\"\ntime_limit = \"10s\"\n\n[platform]\nstart_vm = {{ exec = [\"sh\", \"{script}\", \"{{test_id}}\"], env = {{ DIR = \"{dir}\" }} }}\n"
    ));
    env.worker("w1");
    for id in 1..=4 {
        env.ciq
            .ok(&["enqueue", "start_test", "--arg", &format!("test_id={id}")]);
    }
    let done = wait_until(Duration::from_secs(30), || {
        env.lines("started.txt").len() == 1 && (2..=4).all(|id| !env.db.progress(id).is_empty())
    });
    assert!(done, "outcomes not recorded; logs:\n{}", env.logs());

    // 1: two retryable failures, then started; no canceled row.
    assert_eq!(env.lines("started.txt"), vec!["1"]);
    assert_eq!(env.lines("count-1"), vec!["3"]);
    assert!(env.db.progress(1).is_empty());
    assert!(env.db.instances().contains(&"linux-1".to_string()));

    // 2: unknown code: permanent, generic text, no claim left behind.
    assert_eq!(
        env.db.progress(2),
        vec![(
            "canceled".to_string(),
            "VM creation failed (FANCY_NEW_FAILURE). Please contact the administrator.".to_string()
        )]
    );
    assert_eq!(
        env.lines("count-2"),
        vec!["1"],
        "a permanent error is not retried"
    );

    // 3: retryable every time: canceled once the retries (3) run out.
    assert_eq!(env.lines("count-3"), vec!["4"]);
    let p3 = env.db.progress(3);
    assert_eq!(p3.len(), 1, "{p3:?}");
    assert!(
        p3[0].1.contains("quota") && !p3[0].1.contains("secret-proj"),
        "{p3:?}"
    );

    // 4: soft time limit.
    assert_eq!(
        env.db.progress(4),
        vec![("canceled".to_string(), "Task timed out".to_string())]
    );

    assert_eq!(env.db.instances(), vec!["linux-1".to_string()]);
    let all: Vec<String> = env
        .db
        .strings("SELECT message FROM test_progress")
        .into_iter()
        .flatten()
        .collect();
    assert!(
        all.iter().all(|m| !m.contains("secret-proj")),
        "raw text reached contributors: {all:?}"
    );
    assert!(
        env.logs().contains("raw detail: project secret-proj"),
        "raw text is in the worker log"
    );
}

on_all_backends!(runner_failures, super::run);
