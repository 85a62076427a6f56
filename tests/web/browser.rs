//! A real headless Chromium renders the pages (Debian's `chromium`, installed by
//! `install.sh --test-deps`): the overview shows the queues, a dead task's page its
//! reason and history. With `CIQ_WEB_SCREENSHOTS=DIR` it also saves a screenshot of
//! each page there (how the README's pictures are made).

use super::http::*;
use crate::harness::*;
use std::process::Command;
use std::time::Duration;

fn chromium() -> &'static str {
    for c in ["chromium", "chromium-browser"] {
        if Command::new(c)
            .arg("--version")
            .output()
            .is_ok_and(|o| o.status.success())
        {
            return c;
        }
    }
    panic!("chromium is not installed: run ./install.sh --test-deps (apt-get install chromium)");
}

/// Chromium with the flags that keep it offline and quiet, a fresh profile each time.
fn run_chromium(args: &[&str], url: &str) -> String {
    let profile = tempfile::tempdir().unwrap();
    let dir = format!("--user-data-dir={}", profile.path().display());
    let mut c = Command::new(chromium());
    c.args([
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--disable-dev-shm-usage",
        &dir,
    ])
    .args(args)
    .arg(url);
    let o = c.output().expect("chromium runs");
    assert!(
        o.status.success(),
        "chromium failed: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    String::from_utf8_lossy(&o.stdout).to_string()
}

fn dom(web: &Web, path: &str) -> String {
    let sep = if path.contains('?') { '&' } else { '?' };
    run_chromium(
        &["--dump-dom"],
        &web.url(&format!("{path}{sep}token={TOKEN}")),
    )
}

fn screenshot(web: &Web, path: &str, name: &str, size: &str) {
    let Some(dir) = std::env::var_os("CIQ_WEB_SCREENSHOTS") else {
        return;
    };
    let file = std::path::Path::new(&dir).join(name);
    let sep = if path.contains('?') { '&' } else { '?' };
    run_chromium(
        &[
            &format!("--screenshot={}", file.display()),
            &format!("--window-size={size}"),
            "--hide-scrollbars",
        ],
        &web.url(&format!("{path}{sep}token={TOKEN}")),
    );
    assert!(file.exists(), "no screenshot at {}", file.display());
}

#[test]
fn chromium_renders_the_queues_a_dead_tasks_reason_and_a_tasks_history() {
    let redis = Redis::start();
    let ciq = Ciq::new(&redis);
    ciq.config("[schedule.maintain]\ntask = \"noop\"\nqueue = \"maintenance\"\nevery = \"5m\"\n");
    let dead = dead_task(&ciq, &redis);
    let _b = ciq
        .cmd(&["beat"])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .map(Proc)
        .unwrap();
    let _w = ciq.spawn_worker("w-browser", &["--queues", "default,maintenance"]);
    enqueue(
        &ciq,
        &[
            "noop",
            "--queue",
            "test_execution",
            "--unique",
            "start_test:4211",
            "--arg",
            "test_id=4211",
        ],
    );
    enqueue(
        &ciq,
        &["noop", "--queue", "test_execution", "--countdown", "10m"],
    );
    let web = start(&ciq, &["--allow-actions", "--audit-log", "audit.jsonl"]);
    assert!(wait_until(Duration::from_secs(10), || web
        .get_json("/api/beat")["leader"]
        .is_object()));

    let overview = dom(&web, "/");
    assert!(overview.contains("<h1>Overview</h1>"), "{overview}");
    for q in ["default", "maintenance", "test_execution"] {
        assert!(
            overview.contains(&format!("data-queue=\"{q}\"")),
            "queue {q} missing: {overview}"
        );
    }
    assert!(
        overview.contains("dead task(s) in default"),
        "the dead task is a problem: {overview}"
    );

    let task = dom(&web, &format!("/tasks/{dead}"));
    assert!(task.contains("id=\"reason\""), "{task}");
    assert!(task.contains("noop asked to fail"), "{task}");
    let history = task
        .split("id=\"history\"")
        .nth(1)
        .expect("a history timeline");
    for ev in ["enqueued", "claimed", "failed"] {
        assert!(
            history.contains(&format!("<span class=\"ev\">{ev}</span>")),
            "{ev} missing: {history}"
        );
    }

    let queue = dom(&web, "/queues/test_execution?q=start_test:4211");
    assert!(queue.contains("start_test:4211"), "{queue}");
    let workers = dom(&web, "/workers");
    assert!(workers.contains("w-browser"), "{workers}");
    let beat = dom(&web, "/beat");
    assert!(
        beat.contains("maintain") && beat.contains("id=\"leader\""),
        "{beat}"
    );

    screenshot(&web, "/", "web-overview.png", "1280,900");
    screenshot(
        &web,
        "/queues/default?state=dead",
        "web-queue.png",
        "1280,700",
    );
    screenshot(&web, &format!("/tasks/{dead}"), "web-task.png", "1280,900");
    screenshot(&web, "/workers", "web-workers.png", "1280,500");
    screenshot(&web, "/beat", "web-beat.png", "1280,600");
    screenshot(&web, "/", "web-overview-phone.png", "390,844");
}
