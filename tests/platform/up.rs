//! `ciq up`: with no Redis on the configured local port it starts redis-server (AOF on,
//! under --data-dir), creates nothing in an existing platform SQLite file, picks up the
//! pending tests at once through the stand-in bridge (which, playing the platform, writes
//! the gcp_instance row and notes the start in started-tests.log beside the database),
//! the beat's discovery ticks pick up new ones within about a second, and on SIGTERM it
//! stops the worker and then its redis-server.

use super::db::{Backend, TestDb};
use crate::harness::{free_port, wait_until, Ciq, Proc, Redis};
use std::process::Stdio;
use std::time::{Duration, Instant};

#[test]
fn up_starts_redis_and_picks_up_pending_tests() {
    let db = TestDb::new(Backend::Sqlite);
    db.add_tests(1, 2, "linux");
    db.add_tests(3, 1, "windows");
    let port = free_port();
    let url = format!("redis://127.0.0.1:{port}/0");
    let ciq = Ciq {
        home: tempfile::tempdir().expect("tempdir"),
        broker: url.clone(),
    };
    let db_file = db.url.strip_prefix("sqlite://").expect("sqlite url");
    let started = std::path::Path::new(db_file)
        .parent()
        .unwrap()
        .join("started-tests.log");
    ciq.config(&format!(
        "database = \"{}\"\n[schedule.process_pending_tests]\nevery = \"1s\"\n",
        db.url,
    ));
    let data = ciq.dir().join("data");
    let log = std::fs::File::create(ciq.dir().join("up.log")).expect("log");
    let t0 = Instant::now();
    let mut up = Proc(
        ciq.cmd(&["up", "--data-dir", &data.display().to_string()])
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("spawn ciq up"),
    );
    let lines = || {
        std::fs::read_to_string(&started)
            .unwrap_or_default()
            .lines()
            .count()
    };
    let ok = wait_until(Duration::from_secs(20), || lines() == 3);
    let took = t0.elapsed();
    let upl = std::fs::read_to_string(ciq.dir().join("up.log")).unwrap_or_default();
    assert!(ok, "pending tests not started; log:\n{upl}");
    eprintln!("ciq up: redis started and 3 pending tests started {took:?} after launch");
    assert!(took < Duration::from_secs(5), "took {took:?}: slow start");
    let aof = std::fs::read_dir(data.join("redis"))
        .expect("redis dir under --data-dir")
        .filter_map(|e| e.ok())
        .any(|e| e.file_name().to_string_lossy().starts_with("appendonly"));
    assert!(aof, "AOF files under the data dir");
    assert!(
        upl.contains("ciq up: using Redis ")
            && upl.contains(&format!(
                "at {url}, started by ciq up (AOF on, data in {}",
                data.join("redis").display()
            )),
        "up names the Redis it uses:\n{upl}"
    );
    assert!(std::net::TcpStream::connect(("127.0.0.1", port)).is_ok());

    // A test added later is found by the beat's discovery tick (every second).
    let t1 = Instant::now();
    db.add_tests(4, 1, "linux");
    let ok = wait_until(Duration::from_secs(10), || lines() == 4);
    let later = t1.elapsed();
    assert!(
        ok,
        "new test not picked up; log:\n{}",
        std::fs::read_to_string(ciq.dir().join("up.log")).unwrap_or_default()
    );
    eprintln!("ciq up: a test added later started {later:?} after it was inserted");
    assert!(later < Duration::from_secs(3), "took {later:?}");

    let st = up
        .stop(Duration::from_secs(20))
        .expect("up stops on SIGTERM");
    assert!(st.success(), "{st}");
    assert!(
        std::net::TcpStream::connect(("127.0.0.1", port)).is_err(),
        "its redis-server is stopped"
    );
    // The stand-in, not ciq, wrote the platform's rows.
    assert_eq!(
        db.instances(),
        vec!["linux-1", "linux-2", "linux-4", "windows-3"]
    );
}

/// Beside a Redis that runs without AOF, `up` refuses it (exit 6) and says how to go on;
/// with --use-existing-redis it uses it and says so; a Redis with AOF on is used as is.
#[test]
fn up_beside_a_redis_without_aof_refuses_it_unless_told() {
    let redis = Redis::start();
    let ciq = Ciq::new(&redis);
    let db = ciq.dir().join("p.db");
    ciq.config(&format!("database = \"sqlite://{}\"\n", db.display()));
    let data = ciq.dir().join("data").display().to_string();
    let o = ciq.run(&["up", "--data-dir", &data]);
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(6), "{err}");
    assert!(
        err.contains(&format!(
            "error: the Redis already running at {} (Redis ",
            redis.url()
        )) && err.contains("has AOF off: a restart of it would lose every queued task"),
        "{err}"
    );
    assert!(
        err.contains("hint: turn AOF on") && err.contains("--use-existing-redis"),
        "{err}"
    );
    assert_eq!(
        redis.int(&["DBSIZE"]),
        0,
        "nothing written to the refused Redis"
    );

    for (r, flag, want) in [
        (
            &redis,
            true,
            ", AOF off: --use-existing-redis given; a restart of it loses queued tasks)"
                .to_string(),
        ),
        (&Redis::start_aof(), false, "AOF on)".to_string()),
    ] {
        let c = Ciq::new(r);
        c.config(&format!("database = \"sqlite://{}\"\n", db.display()));
        let log = std::fs::File::create(c.dir().join("up.log")).expect("log");
        let mut args = vec!["up", "--data-dir", &data];
        if flag {
            args.push("--use-existing-redis");
        }
        let mut up = Proc(
            c.cmd(&args)
                .stdout(Stdio::null())
                .stderr(log)
                .spawn()
                .expect("spawn up"),
        );
        let line = format!("ciq up: using the Redis already running at {}", r.url());
        let mut upl = String::new();
        let ok = wait_until(Duration::from_secs(15), || {
            upl = std::fs::read_to_string(c.dir().join("up.log")).unwrap_or_default();
            upl.contains(&line)
        });
        let st = up
            .stop(Duration::from_secs(20))
            .expect("up stops on SIGTERM");
        assert!(ok && upl.contains(&want), "{upl}");
        assert!(st.success(), "{st}\n{upl}");
    }
}
