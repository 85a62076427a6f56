//! `ciq top` driven through a real terminal (tmux at 80×24): it shows the queues, a
//! running task, a dead task and a paused queue; pause/resume and requeue from the
//! keyboard change Redis after confirmation; `q` quits and restores the terminal;
//! `--read-only` refuses the keys.

use crate::harness::*;
use std::process::Command;
use std::time::Duration;

/// A private tmux server (its own socket) killed on drop.
struct Tmux {
    socket: String,
}

impl Tmux {
    fn start(ciq: &Ciq, shell_cmd: &str) -> Tmux {
        let t = Tmux {
            socket: format!("ciq-top-test-{}-{}", std::process::id(), free_port()),
        };
        let env = format!(
            "exec env -i PATH={} HOME={} TERM=xterm-256color CIQ_BROKER={} sh -c '{}'",
            std::env::var("PATH").unwrap_or_default(),
            ciq.dir().display(),
            ciq.broker,
            shell_cmd
        );
        let ok = Command::new("tmux")
            .args([
                "-L",
                &t.socket,
                "-f",
                "/dev/null",
                "new-session",
                "-d",
                "-x",
                "80",
                "-y",
                "24",
                "-s",
                "top",
                "-c",
            ])
            .arg(ciq.dir())
            .arg(env)
            .status()
            .expect("tmux runs (install it: ./install.sh --test-deps)");
        assert!(ok.success(), "tmux new-session failed");
        t
    }

    fn screen(&self) -> String {
        self.tmux(&["capture-pane", "-p", "-t", "top"])
    }

    fn keys(&self, keys: &str) {
        self.tmux(&["send-keys", "-t", "top", keys]);
    }

    fn tmux(&self, args: &[&str]) -> String {
        let o = Command::new("tmux")
            .args(["-L", &self.socket])
            .args(args)
            .output()
            .expect("tmux runs");
        String::from_utf8_lossy(&o.stdout).to_string()
    }

    /// Waits until the screen contains `what`; panics with the screen if it never does.
    fn wait_for(&self, what: &str) -> String {
        let mut last = String::new();
        if wait_until(Duration::from_secs(20), || {
            last = self.screen();
            last.contains(what)
        }) {
            return last;
        }
        panic!("screen never showed {what:?}; it shows:\n{last}");
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        let _ = Command::new("tmux")
            .args(["-L", &self.socket, "kill-server"])
            .status();
    }
}

#[test]
fn top_shows_the_system_and_pauses_resumes_and_requeues_from_the_keyboard() {
    let redis = Redis::start();
    let ciq = Ciq::new(&redis);
    ciq.ok(&["pause", "maintenance"]);
    let _w = ciq.spawn_worker("w1", &["--queues", "default", "--concurrency", "2"]);
    let dead = ciq
        .ok(&["enqueue", "noop", "--arg", "fail=fail"])
        .trim()
        .to_string();
    let running = ciq
        .ok(&["enqueue", "noop", "--arg", "sleep_ms=60000"])
        .trim()
        .to_string();
    assert!(wait_until(Duration::from_secs(20), || {
        ciq.ok(&["inspect", "active"]).contains(&running)
            && redis.int(&["ZCARD", &keys::q("default").dead]) == 1
    }));
    let marker = ciq.dir().join("after-top.txt");
    let t = Tmux::start(
        &ciq,
        &format!(
            "{} top; echo \"exit=$?\" > {m}; stty -a >> {m}; echo TOP-EXITED; sleep 60",
            ciq_bin().display(),
            m = marker.display()
        ),
    );
    let s = t.wait_for(&running[..20]);
    for want in [
        "default",
        "maintenance",
        "test_execution",
        "PAUSED",
        &dead[..20],
        "noop asked to fail",
        "w1@",
        "noop",
        "beat: NO LEADER",
    ] {
        assert!(s.contains(want), "missing {want:?} in:\n{s}");
    }
    assert!(
        s.contains("no worker") || s.contains("WARNING"),
        "status problems on top:\n{s}"
    );
    assert!(s.lines().count() <= 24 && s.lines().all(|l| l.chars().count() <= 80));

    // The first queue (default) is selected: p asks, n cancels, nothing changes.
    t.keys("p");
    t.wait_for("pause queue default? press y");
    t.keys("n");
    t.wait_for("cancelled: pause queue default");
    assert_eq!(redis.int(&["EXISTS", &keys::q("default").paused]), 0);
    t.keys("p");
    t.wait_for("pause queue default? press y");
    t.keys("y");
    t.wait_for("paused default");
    assert_eq!(redis.int(&["EXISTS", &keys::q("default").paused]), 1);
    t.keys("p");
    t.wait_for("resume queue default? press y");
    t.keys("y");
    t.wait_for("resumed default");
    assert_eq!(redis.int(&["EXISTS", &keys::q("default").paused]), 0);

    // Down to maintenance (paused): p resumes it.
    t.keys("Down");
    t.keys("p");
    t.wait_for("resume queue maintenance? press y");
    t.keys("y");
    t.wait_for("resumed maintenance");
    assert_eq!(redis.int(&["EXISTS", &keys::q("maintenance").paused]), 0);

    // Back to default: r requeues its dead task (it fails again, but its history shows it).
    t.keys("Up");
    t.keys("r");
    t.wait_for("requeue 1 dead task(s) of default? press y");
    t.keys("y");
    t.wait_for("requeued 1 dead task(s) of default");
    assert!(ciq.ok(&["inspect", "task", &dead]).contains("requeued"));

    t.keys("q");
    let after = t.wait_for("TOP-EXITED");
    assert!(!after.contains("done/s"), "the dashboard is gone:\n{after}");
    assert_eq!(
        t.tmux(&[
            "display",
            "-p",
            "-t",
            "top",
            "#{alternate_on}#{cursor_flag}"
        ])
        .trim(),
        "01"
    );
    let m = std::fs::read_to_string(&marker).unwrap();
    assert!(m.starts_with("exit=0"), "{m}");
    assert!(
        m.contains(" icanon") && m.contains(" echo"),
        "terminal left in raw mode: {m}"
    );
}

#[test]
fn top_read_only_refuses_the_keys() {
    let redis = Redis::start();
    let ciq = Ciq::new(&redis);
    ciq.ok(&["enqueue", "noop"]);
    let t = Tmux::start(
        &ciq,
        &format!("{} top --read-only; sleep 60", ciq_bin().display()),
    );
    t.wait_for("[read-only]");
    t.keys("p");
    t.wait_for("refused: read-only");
    t.keys("y");
    t.keys("r");
    t.wait_for("refused: read-only");
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(redis.int(&["EXISTS", &keys::q("default").paused]), 0);

    // Without a terminal it says what to use instead.
    let o = ciq.run(&["top"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("ciq top needs a terminal"));
}

/// Two keys in one write, as a terminal sends a fast double press or a paste.
fn burst(t: &Tmux, bytes: &[u8]) {
    let hex: Vec<String> = bytes.iter().map(|b| format!("{b:02x}")).collect();
    let mut args = vec!["send-keys", "-t", "top", "-H"];
    args.extend(hex.iter().map(String::as_str));
    t.tmux(&args);
}

#[test]
fn top_two_arrow_keys_in_one_burst_move_the_selection_two_rows() {
    let redis = Redis::start();
    let ciq = Ciq::new(&redis);
    let t = Tmux::start(&ciq, &format!("{} top; sleep 60", ciq_bin().display()));
    t.wait_for(">default");
    burst(&t, b"\x1b[B\x1b[B");
    t.wait_for(">test_execution");
    burst(&t, b"\x1b[A\x1b[A");
    t.wait_for(">default");
    // Application cursor mode (ESC O B), as some terminals send arrows.
    burst(&t, b"\x1bOB\x1bOB");
    t.wait_for(">test_execution");
}

#[test]
fn top_at_80x24_shows_every_dead_task_with_its_error_whole_queue_names_and_a_late_worker() {
    let redis = Redis::start();
    let ciq = Ciq::new(&redis);
    let mut ids = vec![];
    for _ in 0..6 {
        let id = ciq.ok(&[
            "enqueue",
            "noop",
            "--queue",
            "test_execution",
            "--arg",
            "fail=fail",
        ]);
        ids.push(id.trim().to_string());
    }
    {
        let _w = ciq.spawn_worker("w1", &["--queues", "test_execution"]);
        assert!(wait_until(Duration::from_secs(20), || {
            redis.int(&["ZCARD", &keys::q("test_execution").dead]) == 6
        }));
    }
    // A worker stopped with SIGSTOP: its last heartbeat (12 s ago, within the stale
    // limit) said 8 of 8 busy; Redis holds no task of it any more.
    let at = (std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis()
        - 12_000)
        .to_string();
    redis.cli(&["ZADD", &keys::workers_seen(), &at, "paused@host"]);
    redis.cli(&[
        "HSET",
        &keys::workers(),
        "paused@host",
        r#"{"host":"host","pid":4242,"queues":["default"],"concurrency":8,"busy":8}"#,
    ]);
    let t = Tmux::start(&ciq, &format!("{} top; sleep 60", ciq_bin().display()));
    let s = t.wait_for("paused@host");
    assert!(s.lines().count() <= 24 && s.lines().all(|l| l.chars().count() <= 80));
    // Every dead task (the screen has room for them), each with its error and its whole
    // queue name.
    for id in &ids {
        let line = s
            .lines()
            .find(|l| l.contains(id.as_str()))
            .unwrap_or_else(|| panic!("dead task {id} missing:\n{s}"));
        assert!(line.contains("test_execution "), "queue cut: {line:?}\n{s}");
        assert!(line.contains("noop asked to fail"), "{line:?}\n{s}");
    }
    assert!(s.contains("dead: 6 (newest first)"), "{s}");
    assert!(!s.contains("failed permanently"), "{s}");
    // The late worker: what Redis holds (0 of 8), and late, not "idle".
    let w = s.lines().find(|l| l.contains("paused@host")).unwrap();
    assert!(w.contains("0/8") && !w.contains("8/8"), "{w:?}");
    assert!(w.contains("heartbeat late") && !w.contains("idle"), "{w:?}");
}
