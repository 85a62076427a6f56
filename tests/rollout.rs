//! `migrate-from-cron` and `rollback` against temporary files: the platform's config.py,
//! a cron.d file or a user crontab behind a stand-in `crontab`, and a stand-in
//! `systemctl` that keeps unit state in files and records every call.

use crate::harness::{free_port, Ciq, Redis};
use std::collections::BTreeMap;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::Output;

/// CRLF, no final newline, the flag in comments, a string, a docstring and an indented block.
const CONFIG_PY: &str = "# Sample platform config\r\n\
# USE_CELERY_TASKS = True   <- do not copy this line\r\n\
import os\r\n\
HELP = \"set USE_CELERY_TASKS = True to use ciq\"\r\n\
DOC = \"\"\"\r\nUSE_CELERY_TASKS = True\r\n\"\"\"\r\n\
if os.environ.get('DEBUG'):\r\n    USE_CELERY_TASKS = True\r\n\
USE_CELERY_TASKS_LEGACY = True\r\n\
USE_CELERY_TASKS = False  # switched by ciq\r\n\
MAX_RUNTIME = 120";

const FLAG_FALSE: &str = "USE_CELERY_TASKS = False  # switched by ciq";
const FLAG_TRUE: &str = "USE_CELERY_TASKS = True  # switched by ciq";

const CRON_D: &str = "SHELL=/bin/sh\n\
# m h dom mon dow user command (mod_ci/cron.py runs every 10 minutes)\n\
*/10 * * * * www-data cd /var/www/sample-platform && python mod_ci/cron.py >> /var/log/ci-cron.log 2>&1\n\
0 4 * * * root /usr/local/bin/backup\n";
const CRON_D_LINE: &str = "*/10 * * * * www-data cd /var/www";

const USER_CRON: &str = "MAILTO=ops@example.org\n\
*/10 * * * * cd /var/www/sample-platform && python mod_ci/cron.py\n\
@reboot /usr/local/bin/warm-cache";
const USER_CRON_LINE: &str = "*/10 * * * * cd /var/www";

const SYSTEMCTL: &str = r#"#!/bin/sh
# Stand-in systemctl: unit state lives in files under $SIM; every call is logged.
SIM="@SIM@"
echo "$*" >> "$SIM/systemctl.log"
verb="$1"; shift
[ "$1" = "--quiet" ] && shift
unit="${1%.service}"
f="$SIM/fail/$verb-$unit"
if [ -e "$f" ]; then
  n=$(cat "$f")
  if [ "${n:-1}" -le 1 ]; then rm -f "$f"; echo "injected failure: $verb $unit" >&2; exit 1; fi
  echo $((n - 1)) > "$f"
fi
case "$verb" in
  is-active) [ -e "$SIM/active/$unit" ] ;;
  is-enabled) [ -e "$SIM/enabled/$unit" ] ;;
  start|restart)
    case "$unit" in ciq-*) [ -e "@UNITS@/$unit.service" ] || { echo "Unit $unit.service not found." >&2; exit 5; } ;; esac
    touch "$SIM/active/$unit"; echo "$verb" >> "$SIM/history-$unit" ;;
  stop) rm -f "$SIM/active/$unit" ;;
  enable) touch "$SIM/enabled/$unit" ;;
  disable) rm -f "$SIM/enabled/$unit" ;;
  daemon-reload) : ;;
  *) echo "unknown verb $verb" >&2; exit 1 ;;
esac
"#;

const CRONTAB: &str = r#"#!/bin/sh
# Stand-in crontab: the user crontab is $SIM/user-crontab; every call is logged.
SIM="@SIM@"
echo "$*" >> "$SIM/crontab.log"
if [ "$1" = "-l" ]; then op=list; else op=write; fi
f="$SIM/fail/crontab-$op"
if [ -e "$f" ]; then
  n=$(cat "$f")
  if [ "${n:-1}" -le 1 ]; then rm -f "$f"; echo "injected failure: crontab $op" >&2; exit 1; fi
  echo $((n - 1)) > "$f"
fi
if [ "$op" = list ]; then
  [ -e "$SIM/user-crontab" ] || { echo "no crontab for root" >&2; exit 1; }
  cat "$SIM/user-crontab"
else
  cp "$1" "$SIM/user-crontab.tmp" && mv "$SIM/user-crontab.tmp" "$SIM/user-crontab"
fi
"#;

/// Which crontab holds the entry.
#[derive(Clone, Copy, PartialEq)]
enum Cron {
    File,
    User,
}

struct Rig {
    redis: Redis,
    ciq: Ciq,
    cron: Cron,
}

fn write_exec(path: &Path, text: &str) {
    std::fs::write(path, text).unwrap();
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755)).unwrap();
}

fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as u64
}

impl Rig {
    fn new(cron: Cron) -> Rig {
        let redis = Redis::start();
        let ciq = Ciq::new(&redis);
        let rig = Rig { redis, ciq, cron };
        for d in [
            "platform",
            "cron.d",
            "bin",
            "systemd",
            "sim/active",
            "sim/enabled",
            "sim/fail",
        ] {
            std::fs::create_dir_all(rig.p(d)).unwrap();
        }
        let sim = rig.p("sim").display().to_string();
        let units = rig.p("systemd").display().to_string();
        write_exec(
            &rig.p("bin/systemctl"),
            &SYSTEMCTL.replace("@SIM@", &sim).replace("@UNITS@", &units),
        );
        write_exec(&rig.p("bin/crontab"), &CRONTAB.replace("@SIM@", &sim));
        let cfg = rig.p("platform/config.py");
        std::fs::write(&cfg, CONFIG_PY).unwrap();
        std::fs::set_permissions(&cfg, std::fs::Permissions::from_mode(0o640)).unwrap();
        let _ = std::os::unix::fs::chown(&cfg, Some(4321), Some(4321));
        match cron {
            Cron::File => std::fs::write(rig.p("cron.d/sample-platform"), CRON_D).unwrap(),
            Cron::User => std::fs::write(rig.p("sim/user-crontab"), USER_CRON).unwrap(),
        }
        for d in ["active", "enabled"] {
            std::fs::write(rig.p(&format!("sim/{d}/platform")), "").unwrap();
        }
        rig.write_config("");
        rig
    }

    fn write_config(&self, extra: &str) {
        let p = |s: &str| self.p(s).display().to_string();
        let crontab = match self.cron {
            Cron::File => p("cron.d/sample-platform"),
            Cron::User => "user".into(),
        };
        self.ciq.config(&format!(
            "[rollout]\nplatform_config = \"{}\"\ncrontab = \"{crontab}\"\ncrontab_program = \"{}\"\n\
             systemctl = \"{}\"\nunit_dir = \"{}\"\nbackup_dir = \"{}\"\naudit_log = \"{}\"\n\
             state_dir = \"{}\"\ncron_log = \"{}\"\n{extra}",
            p("platform/config.py"),
            p("bin/crontab"),
            p("bin/systemctl"),
            p("systemd"),
            p("backups"),
            p("audit.jsonl"),
            p("state"),
            p("cron.log"),
        ));
    }

    fn p(&self, rel: &str) -> PathBuf {
        self.ciq.dir().join(rel)
    }

    fn config_py(&self) -> String {
        std::fs::read_to_string(self.p("platform/config.py")).unwrap()
    }

    fn cron_text(&self) -> String {
        match self.cron {
            Cron::File => std::fs::read_to_string(self.p("cron.d/sample-platform")).unwrap(),
            Cron::User => std::fs::read_to_string(self.p("sim/user-crontab")).unwrap(),
        }
    }

    fn cron_original(&self) -> (&'static str, &'static str) {
        match self.cron {
            Cron::File => (CRON_D, CRON_D_LINE),
            Cron::User => (USER_CRON, USER_CRON_LINE),
        }
    }

    /// The exact cron text expected at `stage`.
    fn cron_at(&self, stage: u8) -> String {
        let (orig, line) = self.cron_original();
        let every30 = line.replace("*/10", "*/30");
        match stage {
            0 | 1 => orig.to_string(),
            2 => orig.replace(line, &every30),
            _ => orig.replace(line, &format!("#ciq-disabled# {every30}")),
        }
    }

    fn config_at(&self, stage: u8) -> String {
        if stage >= 2 {
            CONFIG_PY.replace(FLAG_FALSE, FLAG_TRUE)
        } else {
            CONFIG_PY.to_string()
        }
    }

    fn active(&self, unit: &str) -> bool {
        self.p(&format!("sim/active/{unit}")).exists()
    }

    fn enabled(&self, unit: &str) -> bool {
        self.p(&format!("sim/enabled/{unit}")).exists()
    }

    /// Makes the stand-in fail on its `nth` next call of that kind (e.g. "stop-ciq-beat").
    fn fail(&self, what: &str, nth: u32) {
        std::fs::write(self.p(&format!("sim/fail/{what}")), nth.to_string()).unwrap();
    }

    /// systemctl calls that change something (everything but is-active/is-enabled).
    fn mutations(&self) -> Vec<String> {
        std::fs::read_to_string(self.p("sim/systemctl.log"))
            .unwrap_or_default()
            .lines()
            .filter(|l| !l.starts_with("is-"))
            .map(String::from)
            .collect()
    }

    fn crontab_writes(&self) -> usize {
        std::fs::read_to_string(self.p("sim/crontab.log"))
            .unwrap_or_default()
            .lines()
            .filter(|l| *l != "-l")
            .count()
    }

    fn audit(&self) -> Vec<serde_json::Value> {
        std::fs::read_to_string(self.p("audit.jsonl"))
            .unwrap_or_default()
            .lines()
            .map(|l| serde_json::from_str(l).expect("audit line is JSON"))
            .collect()
    }

    fn run(&self, args: &[&str]) -> Output {
        self.ciq.run(args)
    }

    fn ok(&self, args: &[&str]) -> String {
        self.ciq.ok(args)
    }

    fn status(&self) -> serde_json::Value {
        let out = self.ok(&["--json", "migrate-from-cron", "status"]);
        serde_json::from_str(&out).expect("status --json is JSON")
    }

    /// Every file under the temp dir except the stand-ins' call logs.
    fn snapshot(&self) -> BTreeMap<PathBuf, Vec<u8>> {
        fn walk(dir: &Path, out: &mut BTreeMap<PathBuf, Vec<u8>>) {
            for e in std::fs::read_dir(dir).unwrap().flatten() {
                let p = e.path();
                if p.is_dir() {
                    walk(&p, out);
                } else if !p.to_string_lossy().ends_with("ctl.log")
                    && !p.to_string_lossy().ends_with("crontab.log")
                {
                    out.insert(p.clone(), std::fs::read(&p).unwrap());
                }
            }
        }
        let mut out = BTreeMap::new();
        walk(self.ciq.dir(), &mut out);
        out
    }

    /// Writes what a healthy worker, beat and platform side leave in Redis.
    fn healthy(&self) {
        let now = now_ms().to_string();
        let r = &self.redis;
        r.cli(&["ZADD", "ciq:workers:seen", &now, "w1"]);
        r.cli(&["HSET", "ciq:workers", "w1", "{}"]);
        r.cli(&[
            "SET",
            "ciq:beat:leader",
            r#"{"holder":"beat-1","since_ms":1,"token":7}"#,
            "PX",
            "60000",
        ]);
        for (entry, queue) in [
            ("process_pending_tests", "default"),
            ("check_expired_instances", "maintenance"),
        ] {
            r.cli(&[
                "HSET",
                &format!("ciq:beat:entry:{entry}"),
                "last_fire_ms",
                &now,
            ]);
            r.cli(&[
                "HSET",
                &format!("ciq:{{{queue}}}:stats"),
                &format!("last_done:{entry}"),
                &now,
            ]);
        }
        let recent = (now_ms() - 60_000).to_string();
        r.cli(&["HSET", "ciq:platform:first_seen", "41", &recent]);
    }

    /// Drives the files and services to stage 3 through the real commands.
    fn to_stage_3(&self) {
        self.healthy();
        for n in ["1", "2", "3"] {
            self.ok(&["migrate-from-cron", "--to-stage", n, "--yes"]);
        }
    }

    fn assert_stage(&self, stage: u8) {
        assert_eq!(
            self.config_py(),
            self.config_at(stage),
            "config.py at stage {stage}"
        );
        assert_eq!(
            self.cron_text(),
            self.cron_at(stage),
            "cron at stage {stage}"
        );
        for u in ["ciq-worker", "ciq-beat"] {
            assert_eq!(self.active(u), stage > 0, "{u} running at stage {stage}");
            assert_eq!(self.enabled(u), stage > 0, "{u} enabled at stage {stage}");
        }
        assert_eq!(self.status()["stage"], stage, "status reads stage {stage}");
        let meta = std::fs::metadata(self.p("platform/config.py")).unwrap();
        assert_eq!(meta.mode() & 0o777, 0o640, "config.py mode kept");
        assert_eq!(meta.uid(), 4321, "config.py owner kept");
    }

    /// Points the broker at a closed port: rollback must not need Redis.
    fn redis_down(&mut self) {
        self.ciq.broker = format!("redis://127.0.0.1:{}/0", free_port());
    }

    fn redis_up(&mut self) {
        self.ciq.broker = self.redis.url();
    }
}

fn code(o: &Output) -> i32 {
    o.status.code().unwrap_or(-1)
}

fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

fn walk_stages_and_back(cron: Cron) {
    let mut rig = Rig::new(cron);
    rig.assert_stage(0);
    rig.healthy();
    for stage in 1..=3u8 {
        let out = rig.run(&["migrate-from-cron", "next", "--yes"]);
        assert_eq!(code(&out), 0, "{}", text(&out));
        rig.assert_stage(stage);
    }
    assert!(rig.p("systemd/ciq-worker.service").exists());
    assert!(
        rig.p("sim/history-platform").exists(),
        "the platform was restarted after the flag changed"
    );
    rig.redis_down();
    let out = rig.run(&["rollback", "--yes"]);
    assert_eq!(code(&out), 0, "{}", text(&out));
    assert_eq!(rig.config_py().as_bytes(), CONFIG_PY.as_bytes());
    assert_eq!(rig.cron_text(), rig.cron_original().0);
    rig.assert_stage(0);
    let restarts = std::fs::read_to_string(rig.p("sim/history-platform")).unwrap();
    assert_eq!(restarts.lines().count(), 2, "one restart per flag change");
    // flag and cron at stage 2, cron at stage 3, flag and cron in the rollback
    let backups = std::fs::read_dir(rig.p("backups")).unwrap().count();
    assert_eq!(backups, 5, "a backup before every edit of an existing file");
    let steps: Vec<String> = rig
        .audit()
        .iter()
        .map(|e| {
            format!(
                "{} {}",
                e["command"].as_str().unwrap(),
                e["outcome"].as_str().unwrap()
            )
        })
        .collect();
    assert!(steps.iter().any(|s| s == "rollback applied"), "{steps:?}");
    // A second rollback installs no crontab and calls no changing systemctl verb.
    let (writes, calls) = (rig.crontab_writes(), rig.mutations().len());
    rig.ok(&["rollback", "--yes"]);
    assert_eq!(
        (rig.crontab_writes(), rig.mutations().len()),
        (writes, calls)
    );
    if cron == Cron::User {
        assert_eq!(
            writes, 3,
            "crontab installed at stages 2 and 3 and by the rollback"
        );
    }
}

#[test]
fn rollout_stages_walk_and_rollback_cron_d_file() {
    walk_stages_and_back(Cron::File);
}

#[test]
fn rollout_stages_walk_and_rollback_user_crontab() {
    walk_stages_and_back(Cron::User);
}

#[test]
fn rollout_rollback_resumes_after_a_failure_at_each_step() {
    // (what fails, how the failure is injected)
    type Inject<'a> = &'a dyn Fn(&Rig);
    let cases: [(&str, Inject); 6] = [
        ("stop beat", &|r: &Rig| r.fail("stop-ciq-beat", 1)),
        ("stop worker", &|r: &Rig| r.fail("stop-ciq-worker", 1)),
        ("flag", &|r: &Rig| {
            std::fs::write(r.p("backups"), "not a dir").unwrap()
        }),
        ("restart", &|r: &Rig| r.fail("restart-platform", 1)),
        ("cron", &|r: &Rig| r.fail("crontab-write", 1)),
        // plan read, step read, read-back after writing, then the verify step's read
        ("verify", &|r: &Rig| r.fail("crontab-list", 4)),
    ];
    for (name, inject) in cases {
        let mut rig = Rig::new(Cron::User);
        rig.to_stage_3();
        rig.redis_down();
        if rig.p("backups").exists() && name == "flag" {
            std::fs::remove_dir_all(rig.p("backups")).unwrap();
        }
        inject(&rig);
        let out = rig.run(&["rollback", "--yes"]);
        assert_eq!(
            code(&out),
            1,
            "{name}: the failure stops the rollback: {}",
            text(&out)
        );
        assert!(text(&out).contains("FAILED"), "{name}: {}", text(&out));
        assert!(
            rig.audit().iter().any(|e| e["outcome"] == "failed"),
            "{name}: failure in the audit log"
        );
        if name == "flag" {
            std::fs::remove_file(rig.p("backups")).unwrap();
            assert_eq!(
                rig.config_py(),
                rig.config_at(3),
                "flag untouched when its backup failed"
            );
        }
        let out = rig.run(&["rollback", "--yes"]);
        assert_eq!(code(&out), 0, "{name}: rerun completes: {}", text(&out));
        rig.assert_stage(0);
        assert_eq!(rig.config_py(), CONFIG_PY, "{name}");
        assert_eq!(rig.cron_text(), USER_CRON, "{name}");
    }
}

#[test]
fn rollout_dry_run_changes_nothing_and_second_run_is_a_no_op() {
    let mut rig = Rig::new(Cron::File);
    let before = rig.snapshot();
    let out = rig.run(&["migrate-from-cron", "next", "--dry-run"]);
    assert_eq!(code(&out), 0, "{}", text(&out));
    assert!(
        text(&out).contains("install"),
        "the plan is shown: {}",
        text(&out)
    );
    assert_eq!(rig.snapshot(), before, "migrate --dry-run changed a file");
    assert!(rig.mutations().is_empty(), "{:?}", rig.mutations());

    rig.to_stage_3();
    rig.redis_down();
    let at3 = rig.snapshot();
    let calls = rig.mutations().len();
    let out = rig.run(&["rollback", "--dry-run"]);
    assert_eq!(code(&out), 0, "{}", text(&out));
    let restored = format!("+{}", CRON_D.lines().nth(2).unwrap());
    assert!(
        text(&out).contains(&restored),
        "the plan shows the diff: {}",
        text(&out)
    );
    let plan: serde_json::Value =
        serde_json::from_str(&rig.ok(&["--json", "rollback", "--dry-run"])).unwrap();
    assert_eq!(plan["from"], 3, "{plan}");
    let needed: Vec<&str> = plan["steps"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|s| s["needed"] == true && s["read_only"] == false)
        .map(|s| s["action"].as_str().unwrap())
        .collect();
    assert_eq!(
        needed,
        [
            "stop_unit",
            "stop_unit",
            "set_flag",
            "restart_platform",
            "set_cron"
        ]
    );
    assert_eq!(rig.snapshot(), at3, "rollback --dry-run changed a file");
    assert_eq!(
        rig.mutations().len(),
        calls,
        "rollback --dry-run called systemctl"
    );

    rig.ok(&["rollback", "--yes"]);
    let done = rig.snapshot();
    let calls = rig.mutations().len();
    let out = rig.run(&["rollback", "--yes"]);
    assert_eq!(code(&out), 0, "{}", text(&out));
    assert!(text(&out).contains("nothing to change"), "{}", text(&out));
    assert_eq!(rig.snapshot(), done, "a second rollback changed a file");
    assert_eq!(
        rig.mutations().len(),
        calls,
        "a second rollback called systemctl"
    );
    // Without a terminal, nothing to do is still fine; something to do is refused.
    rig.ok(&["rollback"]);
    rig.redis_up();
    rig.ok(&["migrate-from-cron", "--to-stage", "1", "--yes"]);
    let at1 = rig.snapshot();
    let out = rig.run(&["migrate-from-cron", "--to-stage", "1", "--yes"]);
    assert!(text(&out).contains("nothing to change"), "{}", text(&out));
    assert_eq!(rig.snapshot(), at1);
    let out = rig.run(&["rollback"]);
    assert_eq!(code(&out), 6, "no TTY and no --yes: {}", text(&out));
    assert_eq!(rig.snapshot(), at1);
}

#[test]
fn rollout_status_names_drift_and_the_fix() {
    let rig = Rig::new(Cron::File);
    rig.healthy();
    rig.ok(&["migrate-from-cron", "--to-stage", "1", "--yes"]);
    // Someone flips the flag by hand; cron still runs every 10 minutes.
    std::fs::write(
        rig.p("platform/config.py"),
        CONFIG_PY.replace(FLAG_FALSE, FLAG_TRUE),
    )
    .unwrap();
    let out = rig.ok(&["migrate-from-cron", "status"]);
    assert!(out.contains("DRIFT"), "{out}");
    assert!(
        out.contains("cron entry mod_ci/cron.py: found every 10 minutes"),
        "{out}"
    );
    assert!(out.contains("ciq migrate-from-cron --to-stage 2"), "{out}");
    assert!(out.contains("ciq rollback"), "{out}");
    let j = rig.status();
    assert!(j["stage"].is_null(), "{j}");
    assert_eq!(
        j["drift"][0]["component"], "cron entry mod_ci/cron.py",
        "{j}"
    );
    assert_eq!(j["observed"]["flag"]["kind"], "true", "{j}");
    // The named fix works and ends the drift.
    rig.ok(&["migrate-from-cron", "--to-stage", "2", "--yes"]);
    rig.assert_stage(2);
}

#[test]
fn rollout_gates_refuse_without_force_and_pass_when_healthy() {
    let rig = Rig::new(Cron::File);
    rig.ok(&["migrate-from-cron", "next", "--yes"]);
    rig.assert_stage(1);
    let at1 = rig.snapshot();
    // Nothing in Redis: no worker, no beat, no periodic runs.
    let out = rig.run(&["migrate-from-cron", "next", "--yes"]);
    assert_eq!(code(&out), 6, "{}", text(&out));
    assert!(text(&out).contains("worker alive"), "{}", text(&out));
    assert_eq!(rig.snapshot(), at1, "a refused move changed nothing");
    // Healthy, except one test pending for 20 minutes.
    rig.healthy();
    let old = (now_ms() - 20 * 60_000).to_string();
    rig.redis
        .cli(&["HSET", "ciq:platform:first_seen", "99", &old]);
    let out = rig.run(&["migrate-from-cron", "next", "--yes"]);
    assert_eq!(code(&out), 6, "{}", text(&out));
    assert!(text(&out).contains("test 99 pending"), "{}", text(&out));
    let j = rig.status();
    let failing: Vec<&str> = j["gates"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|g| g["ok"] == false)
        .map(|g| g["name"].as_str().unwrap())
        .collect();
    assert_eq!(failing, ["no stale pending tests"], "{j}");
    // --force goes ahead and says so in the audit log.
    rig.ok(&["migrate-from-cron", "next", "--yes", "--force"]);
    rig.assert_stage(2);
    assert!(rig.audit().iter().any(
        |e| e["outcome"] == "gates-forced" && e["reason"].as_str().unwrap().contains("test 99")
    ));
    // Healthy gates pass without --force.
    rig.redis.cli(&["HDEL", "ciq:platform:first_seen", "99"]);
    rig.ok(&["migrate-from-cron", "next", "--yes"]);
    rig.assert_stage(3);
}

/// Runs `ciq ARGS` under a pseudo-terminal, answering prompts: each (expect, send) waits
/// for `expect` in the output, then types `send`.
const PTY_DRIVER: &str = r#"
import json, os, pty, select, sys, time
script = json.loads(sys.argv[1])
argv = sys.argv[2:]
pid, fd = pty.fork()
if pid == 0:
    os.execv(argv[0], argv)
buf = b""
seen = b""
def fail(msg):
    sys.stderr.write(msg + "\n--- output ---\n" + seen.decode(errors="replace"))
    os.kill(pid, 9)
    sys.exit(99)
for expect, send in script:
    deadline = time.time() + 20
    while expect.encode() not in buf:
        if time.time() > deadline:
            fail("timed out waiting for %r" % expect)
        r, _, _ = select.select([fd], [], [], 0.1)
        if r:
            try:
                data = os.read(fd, 4096)
            except OSError:
                data = b""
            if not data:
                fail("ended while waiting for %r" % expect)
            buf += data
            seen += data
    buf = buf[buf.index(expect.encode()) + len(expect):]
    if send:
        time.sleep(0.2)
        os.write(fd, send.encode())
while True:
    try:
        data = os.read(fd, 4096)
    except OSError:
        break
    if not data:
        break
    seen += data
_, status = os.waitpid(pid, 0)
sys.stdout.write(seen.decode(errors="replace"))
sys.exit(os.waitstatus_to_exitcode(status))
"#;

fn wizard(rig: &Rig, script: &[(&str, &str)]) -> (i32, String) {
    let driver = rig.p("pty_driver.py");
    std::fs::write(&driver, PTY_DRIVER).unwrap();
    let script = serde_json::to_string(script).unwrap();
    let bin = crate::harness::ciq_bin();
    let out = std::process::Command::new("python3")
        .env_clear()
        .env("HOME", rig.ciq.dir())
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("TERM", "xterm")
        .env("CIQ_BROKER", &rig.ciq.broker)
        .current_dir(rig.ciq.dir())
        .arg(&driver)
        .arg(&script)
        .arg(bin)
        .arg("rollback")
        .output()
        .expect("python3 runs");
    let all = text(&out);
    let c = code(&out);
    assert_ne!(c, 99, "pty driver: {all}");
    (c, all)
}

const DOWN: &str = "\x1b[B";

#[test]
fn rollout_wizard_confirm_skip_and_abort_through_a_pty() {
    // Confirm every step: stage 0.
    let mut rig = Rig::new(Cron::File);
    rig.to_stage_3();
    rig.redis_down();
    let mut script = vec![];
    let steps = ["Step 1/6", "Step 2/6", "Step 3/6", "Step 4/6", "Step 5/6"];
    for s in steps {
        script.push((s, ""));
        script.push(("Apply this step?", "\r"));
    }
    script.push(("rollback complete", ""));
    let (c, out) = wizard(&rig, &script);
    assert_eq!(c, 0, "{out}");
    rig.assert_stage(0);

    // Skip stopping the beat, with a reason: everything else is rolled back.
    let mut rig = Rig::new(Cron::File);
    rig.to_stage_3();
    rig.redis_down();
    let mut script = vec![
        ("Step 1/6", ""),
        ("Apply this step?", DOWN),
        ("skip", "\r"),
        ("Reason for skipping", "beat stays for the audit team\r"),
    ];
    for s in &steps[1..] {
        script.push((s, ""));
        script.push(("Apply this step?", "\r"));
    }
    script.push(("skipped step", ""));
    let (c, out) = wizard(&rig, &script);
    assert_eq!(c, 0, "{out}");
    assert!(
        rig.active("ciq-beat") && rig.enabled("ciq-beat"),
        "skipped: beat still runs"
    );
    assert!(!rig.active("ciq-worker") && !rig.enabled("ciq-worker"));
    assert_eq!(rig.config_py(), CONFIG_PY);
    assert_eq!(rig.cron_text(), CRON_D);
    let skip = rig
        .audit()
        .into_iter()
        .find(|e| e["outcome"] == "skipped")
        .expect("skip in the audit log");
    assert_eq!(skip["reason"], "beat stays for the audit team");
    assert_eq!(skip["step"], "stop ciq-beat");

    // Abort at the flag: the two stops are done, nothing after them.
    let mut rig = Rig::new(Cron::File);
    rig.to_stage_3();
    rig.redis_down();
    let down2 = format!("{DOWN}{DOWN}");
    let script = [
        ("Step 1/6", ""),
        ("Apply this step?", "\r"),
        ("Step 2/6", ""),
        ("Apply this step?", "\r"),
        ("Step 3/6", ""),
        ("Apply this step?", down2.as_str()),
        ("abort", "\r"),
        ("aborted", ""),
    ];
    let (c, out) = wizard(&rig, &script);
    assert_eq!(c, 1, "{out}");
    assert!(!rig.active("ciq-beat") && !rig.active("ciq-worker"));
    assert_eq!(
        rig.config_py(),
        rig.config_at(3),
        "flag untouched after abort"
    );
    assert_eq!(
        rig.cron_text(),
        rig.cron_at(3),
        "cron untouched after abort"
    );
    assert!(rig.audit().iter().any(|e| e["outcome"] == "aborted"));
    // And the rerun finishes it.
    rig.ok(&["rollback", "--yes"]);
    rig.assert_stage(0);
}

#[test]
fn rollout_verify_cron_waits_for_a_new_run_in_the_cron_log() {
    let mut rig = Rig::new(Cron::File);
    rig.redis_down();
    let line = "Nov 28 08:00:01 host CRON[7]: (www-data) CMD (python mod_ci/cron.py)\n";
    std::fs::write(rig.p("cron.log"), line).unwrap();
    // A run logged before the rollback does not count: the bounded wait times out.
    let out = rig.run(&["rollback", "--yes", "--verify-cron", "1s"]);
    assert_eq!(code(&out), 5, "{}", text(&out));
    assert!(text(&out).contains("no new run"), "{}", text(&out));
    // A run logged while it waits does.
    let mut child = rig
        .ciq
        .cmd(&["rollback", "--yes", "--verify-cron", "20s"])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    // Cron "runs" every 300ms until the command notices (robust to a slow start).
    let mut status = None;
    for _ in 0..50 {
        std::thread::sleep(std::time::Duration::from_millis(300));
        let mut f = std::fs::OpenOptions::new()
            .append(true)
            .open(rig.p("cron.log"))
            .unwrap();
        std::io::Write::write_all(&mut f, line.as_bytes()).unwrap();
        if let Ok(Some(s)) = child.try_wait() {
            status = Some(s);
            break;
        }
    }
    if status.is_none() {
        status = crate::harness::wait_exit(&mut child, std::time::Duration::from_secs(5));
    }
    assert!(status.is_some_and(|s| s.success()), "{status:?}");
}
