//! A worker's life: it stops when its shutdown sender is dropped, and one started before
//! Redis waits for it and still stops on SIGTERM meanwhile.

use crate::harness::*;
use std::time::{Duration, Instant};

/// Enqueues a `noop` with these args and waits until a worker is running it; returns its id.
fn start_running(ciq: &Ciq, args_json: &str) -> String {
    let id = ciq.ok(&["enqueue", "noop", "--args-json", args_json]);
    assert!(
        wait_until(Duration::from_secs(5), || ciq.depth("default")["active"]
            == 1),
        "the task never became active: {:?}",
        ciq.depth("default")
    );
    id.trim().to_string()
}

#[test]
fn worker_run_stops_when_its_shutdown_sender_is_dropped() {
    use std::sync::Arc;
    let redis = Redis::start();
    let dir = tempfile::tempdir().unwrap();
    let env = r#"{"v":1,"id":"L1","task":"noop","queue":"default","args":{"incr":"ciq:bench:done"},"attempt":1,"max_retries":0,"enqueued_at":1}"#;
    redis.cli(&["LPUSH", &keys::q("default").pending, env]);
    block_on(async {
        let ov = lib_overrides(dir.path(), &redis.url());
        let cfg = Arc::new(ciq::config::load(&ov).unwrap());
        let broker = ciq::broker::Broker::connect(&redis.url()).await.unwrap();
        let (tx, rx) = tokio::sync::watch::channel(ciq::shutdown::Shutdown::Run);
        let opts = ciq::worker::WorkerOptions::from_config(&cfg, "lib-test".into());
        let handlers: Vec<Arc<dyn ciq::worker::handler::TaskHandler>> =
            vec![Arc::new(ciq::worker::handler::Noop)];
        let run = tokio::spawn(ciq::worker::run(opts, cfg, broker, handlers, rx));
        let t0 = Instant::now();
        while redis.int(&["GET", "ciq:bench:done"]) != 1 && t0.elapsed() < Duration::from_secs(10) {
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
        drop(tx);
        let r = tokio::time::timeout(Duration::from_secs(5), run).await;
        let summary = r
            .expect("the worker stops instead of spinning")
            .expect("the worker task did not panic")
            .expect("the worker returns its summary, not an error");
        assert_eq!(
            (summary.done, summary.retried, summary.failed),
            (1, 0, 0),
            "it ran the queued task before stopping: {summary:?}"
        );
    });
}

#[test]
fn a_worker_started_before_redis_waits_for_it_and_stops_on_sigterm_meanwhile() {
    let mut redis = Redis::start();
    let ciq = Ciq::new(&redis);
    redis.kill();
    let mut w = ciq.spawn_worker("early", &[]);
    std::thread::sleep(Duration::from_millis(800));
    assert!(
        w.try_wait().unwrap().is_none(),
        "it does not exit while Redis is down"
    );
    redis.restart();
    ciq.ok(&["enqueue", "noop", "--arg", "incr=ciq:bench:done"]);
    assert!(
        wait_until(Duration::from_secs(15), || redis
            .int(&["GET", "ciq:bench:done"])
            == 1),
        "{}",
        ciq.log("early")
    );
    start_running(&ciq, r#"{"sleep_ms": 30000}"#);

    redis.kill();
    let mut w2 = ciq.spawn_worker("waiting", &[]);
    std::thread::sleep(Duration::from_millis(500));
    assert!(
        w2.stop(Duration::from_secs(3)).is_some_and(|s| s.success()),
        "SIGTERM while waiting for Redis stops it"
    );
    // A worker whose Redis died mid-task still stops: after its shutdown timeout (5 s) it
    // cannot hand the task back, gives up recording after a few seconds and exits; the
    // task stays leased in Redis and is recovered by the next worker's sweep.
    assert!(
        w.stop(Duration::from_secs(20)).is_some(),
        "graceful stop does not hang on a dead Redis: {}",
        ciq.log("early")
    );
}
