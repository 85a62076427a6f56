//! Expired instances: the unfinished test gets "Could not complete test, time limit
//! exceeded", its VM is deleted and the row removed; a failing delete keeps the row and
//! is retried by the next run; young instances and tests finished otherwise are left.

use super::db::{Backend, Bind};
use super::{on_all_backends, Env};

fn run(b: Backend) {
    let mut env = Env::new(b);
    env.db.add_tests(10, 4, "linux");
    let now = chrono::Local::now().naive_local();
    let old = now - chrono::Duration::hours(3);
    for (id, at) in [(10, old), (11, now), (12, old), (13, old)] {
        env.db.exec(
            "INSERT INTO gcp_instance (name, test_id, timestamp) VALUES (?, ?, ?)",
            &[Bind::S(format!("linux-{id}")), Bind::I(id), Bind::T(at)],
        );
    }
    env.db.exec(
        "INSERT INTO test_progress (test_id, status, timestamp, message) VALUES (12, 'completed', ?, 'done')",
        &[Bind::T(chrono::Utc::now().naive_utc())],
    );
    let deleted = env.path("deleted.txt").display().to_string();
    let flag = env.path("failed-once").display().to_string();
    let script = env.script(
        "delete.sh",
        &format!(
            "echo \"$1\" >> {deleted}\nif [ \"$1\" = linux-13 ] && [ ! -f {flag} ]; then touch {flag}; echo 'delete failed' >&2; exit 1; fi"
        ),
    );
    env.config(&format!(
        "[platform]\nmax_runtime = \"2h\"\ndelete_vm = {{ exec = [\"sh\", \"{script}\", \"{{vm_name}}\"] }}\n"
    ));
    env.worker("w1");

    let wait = [
        "enqueue",
        "check_expired_instances",
        "--wait",
        "--timeout",
        "20s",
    ];
    env.ciq.ok(&wait);
    let limit = (
        "canceled".to_string(),
        "Could not complete test, time limit exceeded".to_string(),
    );
    assert_eq!(env.db.progress(10), vec![limit.clone()]);
    assert_eq!(env.db.progress(13), vec![limit.clone()]);
    assert!(env.db.progress(11).is_empty(), "young instance untouched");
    assert_eq!(env.db.progress(12).len(), 1, "finished test untouched");
    assert_eq!(env.lines("deleted.txt"), vec!["linux-10", "linux-13"]);
    assert_eq!(
        env.db.instances(),
        vec!["linux-11", "linux-12", "linux-13"],
        "deleted VM's row removed; failed delete's row kept"
    );

    env.ciq.ok(&wait);
    assert_eq!(
        env.lines("deleted.txt"),
        vec!["linux-10", "linux-13", "linux-13"]
    );
    assert_eq!(env.db.instances(), vec!["linux-11", "linux-12"]);
    assert_eq!(env.db.progress(13), vec![limit], "canceled once");
}

on_all_backends!(expired_instances, super::run);
