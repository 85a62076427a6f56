//! Small messages a new user meets in the first hour (issue 12): a bad broker URL says
//! what is expected, an SQLite database that cannot be opened is not called a "database
//! server", `noop fail=true` fails saying why instead of passing silently, and usage does not ask for a
//! broker the environment already names.

use crate::harness::*;
use std::time::Duration;

#[test]
fn a_bad_broker_url_says_what_a_good_one_looks_like() {
    let redis = Redis::start();
    let ciq = Ciq::new(&redis);
    for url in ["foo", "redis://h:notaport/0"] {
        let o = ciq.run(&["--broker", url, "depth"]);
        assert_eq!(o.status.code(), Some(2), "{url}");
        let err = String::from_utf8_lossy(&o.stderr);
        assert!(
            err.contains(&format!(
                "bad broker URL {url}: expected redis://[user:password@]host[:port][/db]"
            )),
            "{err}"
        );
        assert!(!err.contains("InvalidClientConfig"), "{err}");
    }
}

#[test]
fn an_unopenable_sqlite_file_gets_a_file_hint() {
    let redis = Redis::start();
    let ciq = Ciq::new(&redis);
    let err = ciq.fails(
        &[
            "--database",
            "sqlite:///nonexistent-dir-ciq/x.db",
            "platform",
            "check",
        ],
        4,
    );
    assert!(
        err.contains("hint: can ciq read and write that file"),
        "{err}"
    );
    assert!(!err.contains("database server"), "{err}");
}

#[test]
fn noop_refuses_an_unknown_fail_value() {
    let redis = Redis::start();
    let ciq = Ciq::new(&redis);
    let id = ciq
        .ok(&["enqueue", "noop", "--arg", "fail=true"])
        .trim()
        .to_string();
    let _w = ciq.spawn_worker("w", &["--queues", "default"]);
    let mut out = String::new();
    assert!(
        wait_until(Duration::from_secs(15), || {
            out = ciq.ok(&["--json", "inspect", "task", &id]);
            out.contains("\"state\": \"failed\"")
        }),
        "{out}"
    );
    assert!(
        out.contains("noop: fail must be \\\"retry\\\" or \\\"fail\\\" (got true)"),
        "{out}"
    );
}

/// With CIQ_BROKER set (as the harness always does), a usage error does not present
/// --broker as a required option.
#[test]
fn usage_does_not_list_broker_when_it_comes_from_the_environment() {
    let redis = Redis::start();
    let ciq = Ciq::new(&redis);
    for (args, usage) in [
        (&["pause"][..], "Usage: ciq pause <QUEUES>..."),
        (&["inspect", "task"][..], "Usage: ciq inspect task <ID>"),
    ] {
        let o = ciq.run(args);
        assert_eq!(o.status.code(), Some(2), "{args:?}");
        let err = String::from_utf8_lossy(&o.stderr);
        assert!(err.contains(usage), "{args:?}: {err}");
        assert!(!err.contains("--broker"), "{args:?}: {err}");
    }
    // A bad value in a CIQ_* variable is still reported as such.
    let o = ciq
        .cmd(&["work"])
        .env("CIQ_CONCURRENCY", "many")
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("many"), "{err}");
}
