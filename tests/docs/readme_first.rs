//! The README's first command, as written, on a machine whose packaged Redis already
//! listens on 127.0.0.1:6379 with AOF off (issue 19): it installs (to the user prefix the
//! README names, reusing the test binary through install.sh --bin), `ciq up` starts its
//! own Redis, a test row inserted as the README shows is started, Ctrl-C (SIGINT to the
//! whole foreground group, as a terminal sends it) stops everything with exit 0, and the
//! Redis on 6379 (if any) holds no ciq key afterwards. The commands are read from the
//! README, so this fails when the README drifts.

use crate::harness::{wait_exit, wait_until};
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

fn readme() -> String {
    std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("README.md"))
        .expect("README.md")
}

/// The first line of the README that starts with `prefix`, without a trailing comment.
fn readme_line(text: &str, prefix: &str) -> String {
    let line = text
        .lines()
        .map(str::trim)
        .find(|l| l.starts_with(prefix))
        .unwrap_or_else(|| panic!("README has no line starting with {prefix:?}"));
    match line.find("  #") {
        Some(i) => line[..i].trim().to_string(),
        None => line.to_string(),
    }
}

/// The `export PATH=…` the README gives for a `--prefix ~/.local` install.
fn readme_path_line(text: &str) -> String {
    let start = text
        .find("`export PATH=")
        .expect("README gives the PATH line for --prefix ~/.local");
    let rest = &text[start + 1..];
    rest[..rest.find('`').expect("closing backtick")].to_string()
}

/// Copies the files install.sh and the example need, as a clone would have them.
fn clone_into(dst: &Path) {
    let src = Path::new(env!("CARGO_MANIFEST_DIR"));
    let st = Command::new("cp")
        .arg("-a")
        .args(
            [
                "install.sh",
                "completions",
                "man",
                "install",
                "contrib",
                "examples",
            ]
            .map(|f| src.join(f)),
        )
        .arg(dst)
        .status()
        .expect("cp");
    assert!(st.success());
}

/// `ciq:*` keys in whatever answers on 127.0.0.1:6379 (read only); None when nothing does.
fn ciq_keys_on_6379() -> Option<String> {
    let ping = Command::new("redis-cli")
        .args(["-h", "127.0.0.1", "-p", "6379", "PING"])
        .output()
        .ok()?;
    if String::from_utf8_lossy(&ping.stdout).trim() != "PONG" {
        return None;
    }
    let o = Command::new("redis-cli")
        .args([
            "-h",
            "127.0.0.1",
            "-p",
            "6379",
            "--scan",
            "--pattern",
            "ciq:*",
        ])
        .output()
        .expect("redis-cli --scan");
    Some(String::from_utf8_lossy(&o.stdout).trim().to_string())
}

#[test]
fn readme_first_command_runs_up_beside_a_redis_on_6379_and_stops_on_ctrl_c() {
    let text = readme();
    let first = readme_line(&text, "./install.sh && ciq up");
    let insert = readme_line(
        &text,
        "sqlite3 -cmd \".timeout 5000\" ciq-platform.db \"INSERT",
    );
    let path_line = readme_path_line(&text);
    assert!(
        text.contains("--prefix ~/.local"),
        "README names the user prefix"
    );

    let tmp = tempfile::tempdir().expect("tempdir");
    let (home, repo) = (tmp.path().join("home"), tmp.path().join("clone"));
    std::fs::create_dir_all(&home).unwrap();
    std::fs::create_dir_all(&repo).unwrap();
    clone_into(&repo);
    let script = format!(
        "{path_line}\n{}",
        first.replacen(
            "./install.sh",
            "./install.sh --prefix ~/.local --bin \"$CIQ_TEST_BIN\"",
            1
        )
    );
    let log_path = tmp.path().join("session.log");
    let log = std::fs::File::create(&log_path).unwrap();
    let mut session = Command::new("bash")
        .arg("-c")
        .arg(&script)
        .current_dir(&repo)
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("HOME", &home)
        .env("CIQ_TEST_BIN", env!("CARGO_BIN_EXE_ciq"))
        .stdin(Stdio::null())
        .stdout(log.try_clone().unwrap())
        .stderr(log)
        .process_group(0)
        .spawn()
        .expect("bash runs the README's command");
    let read_log = || std::fs::read_to_string(&log_path).unwrap_or_default();
    let ready = wait_until(Duration::from_secs(60), || {
        read_log().contains("platform database ready")
    });
    let pgid = session.id() as i32;
    let ctrl_c = || unsafe {
        libc::kill(-pgid, libc::SIGINT);
    };
    if !ready {
        ctrl_c();
        let _ = wait_exit(&mut session, Duration::from_secs(20));
        panic!("ciq up did not get ready:\n{}", read_log());
    }
    let sock = home.join(".local/share/ciq/redis/redis.sock");
    let up = read_log();
    assert!(
        up.contains("ciq up: using Redis ")
            && up.contains(&format!(
                "at unix://{}, started by ciq up (AOF on",
                sock.display()
            )),
        "up says which Redis it runs:\n{up}"
    );

    // As a person would: the row goes in once up says it runs (its database exists).
    assert!(
        wait_until(Duration::from_secs(30), || read_log()
            .contains("worker started")),
        "up starts its worker:\n{}",
        read_log()
    );
    let o = Command::new("bash")
        .arg("-c")
        .arg(&insert)
        .current_dir(&repo)
        .output()
        .expect("sqlite3");
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let started = repo.join("started-tests.log");
    let ok = wait_until(Duration::from_secs(15), || {
        std::fs::read_to_string(&started)
            .unwrap_or_default()
            .contains(" started linux-1")
    });
    if !ok {
        ctrl_c();
        let _ = wait_exit(&mut session, Duration::from_secs(20));
        panic!("the test row was not started:\n{}", read_log());
    }

    ctrl_c();
    let st = wait_exit(&mut session, Duration::from_secs(40));
    let out = read_log();
    assert_eq!(
        st.and_then(|s| s.code()),
        Some(0),
        "Ctrl-C stops with exit 0:\n{out}"
    );
    assert!(out.contains("stopped redis-server"), "{out}");
    assert!(
        std::os::unix::net::UnixStream::connect(&sock).is_err(),
        "its redis-server is stopped"
    );
    match ciq_keys_on_6379() {
        None => eprintln!("nothing answers on 127.0.0.1:6379: nothing to check there"),
        Some(after) => assert_eq!(after, "", "ciq keys in the Redis on 6379"),
    }
}
