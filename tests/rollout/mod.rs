//! `migrate-from-cron` and `rollback` against temporary files: the platform's config.py,
//! a cron.d file or a user crontab behind a stand-in `crontab`, and a stand-in
//! `systemctl` that keeps unit state in files and records every call.

mod checks;
mod crontab_format;
mod flows;
mod stage1_guard;
mod stop_wait;
mod wizard;

use crate::harness::{free_port, keys, now_ms, stderr, Ciq, Redis};
use std::collections::BTreeMap;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::Output;

/// CRLF, no final newline, the flag in comments, a string, a docstring and an indented block.
pub const CONFIG_PY: &str = "# Sample platform config\r\n\
# USE_CELERY_TASKS = True   <- do not copy this line\r\n\
import os\r\n\
HELP = \"set USE_CELERY_TASKS = True to use ciq\"\r\n\
DOC = \"\"\"\r\nUSE_CELERY_TASKS = True\r\n\"\"\"\r\n\
if os.environ.get('DEBUG'):\r\n    USE_CELERY_TASKS = True\r\n\
USE_CELERY_TASKS_LEGACY = True\r\n\
USE_CELERY_TASKS = False  # switched by ciq\r\n\
MAX_RUNTIME = 120";

pub const FLAG_FALSE: &str = "USE_CELERY_TASKS = False  # switched by ciq";
pub const FLAG_TRUE: &str = "USE_CELERY_TASKS = True  # switched by ciq";

pub const CRON_D: &str = "SHELL=/bin/sh\n\
# m h dom mon dow user command (mod_ci/cron.py runs every 10 minutes)\n\
*/10 * * * * root cd /var/www/sample-platform && python mod_ci/cron.py >> /var/log/ci-cron.log 2>&1\n\
0 4 * * * root /usr/local/bin/backup\n";
pub const CRON_D_LINE: &str = "*/10 * * * * root cd /var/www";
/// What the tests' configs put in front of the cron command in stages 1–2 (this ciq
/// binary: ciq checks that the program of a line it writes exists).
pub fn guard() -> String {
    format!(
        "{} --config /etc/ciq/ciq.toml cron-guard --",
        crate::harness::ciq_bin().display()
    )
}

pub const USER_CRON: &str = "MAILTO=ops@example.org\n\
*/10 * * * * cd /var/www/sample-platform && python mod_ci/cron.py\n\
@reboot /usr/local/bin/warm-cache";
pub const USER_CRON_LINE: &str = "*/10 * * * * cd /var/www";

const SYSTEMCTL: &str = r#"#!/bin/sh
# Stand-in systemctl: unit state lives in files under $SIM; every call is logged.
SIM="@SIM@"
echo "$*" >> "$SIM/systemctl.log"
verb="$1"; shift
[ "$1" = "--quiet" ] && shift
unit="${1%.service}"
# kill [--kill-who=main] [--signal=SIG] UNIT: the unit is the last argument.
[ "$verb" = kill ] && for a in "$@"; do unit="${a%.service}"; done
# A unit with a real process behind it has its pid in $SIM/pid/UNIT.
pid=$(cat "$SIM/pid/$unit" 2>/dev/null)
gone() { [ ! -d "/proc/$pid" ] || grep -q '^State:.*Z' "/proc/$pid/status" 2>/dev/null; }
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
  stop)
    # As systemd does: SIGTERM to the main process, then wait for it to end.
    if [ -n "$pid" ]; then kill -TERM "$pid" 2>/dev/null; until gone; do sleep 0.1; done; rm -f "$SIM/pid/$unit"; fi
    rm -f "$SIM/active/$unit" ;;
  kill)
    [ -n "$pid" ] && ! gone || { echo "Failed to kill unit $unit.service: No main process" >&2; exit 1; }
    kill -TERM "$pid" ;;
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
pub enum Cron {
    File,
    User,
}

pub struct Rig {
    pub redis: Redis,
    pub ciq: Ciq,
    pub cron: Cron,
}

pub fn write_exec(path: &Path, text: &str) {
    std::fs::write(path, text).unwrap();
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755)).unwrap();
}

impl Rig {
    pub fn new(cron: Cron) -> Rig {
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

    pub fn write_config(&self, extra: &str) {
        self.write_config_guard(&guard(), extra)
    }

    /// The rig's config with another `guard_command`.
    pub fn write_config_guard(&self, guard: &str, extra: &str) {
        let p = |s: &str| self.p(s).display().to_string();
        let crontab = match self.cron {
            Cron::File => p("cron.d/sample-platform"),
            Cron::User => "user".into(),
        };
        self.ciq.config(&format!(
            "[rollout]\nplatform_config = \"{}\"\ncrontab = \"{crontab}\"\ncrontab_program = \"{}\"\n\
             systemctl = \"{}\"\nunit_dir = \"{}\"\nbackup_dir = \"{}\"\naudit_log = \"{}\"\n\
             state_dir = \"{}\"\ncron_log = \"{}\"\nguard_command = \"{guard}\"\n{extra}",
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

    pub fn p(&self, rel: &str) -> PathBuf {
        self.ciq.dir().join(rel)
    }

    pub fn config_py(&self) -> String {
        std::fs::read_to_string(self.p("platform/config.py")).unwrap()
    }

    pub fn cron_text(&self) -> String {
        match self.cron {
            Cron::File => std::fs::read_to_string(self.p("cron.d/sample-platform")).unwrap(),
            Cron::User => std::fs::read_to_string(self.p("sim/user-crontab")).unwrap(),
        }
    }

    pub fn cron_original(&self) -> (&'static str, &'static str) {
        match self.cron {
            Cron::File => (CRON_D, CRON_D_LINE),
            Cron::User => (USER_CRON, USER_CRON_LINE),
        }
    }

    /// The exact cron text expected at `stage`: the original line, the same command as
    /// one quoted word behind the guard (stages 1–2), commented out (stage 3).
    pub fn cron_at(&self, stage: u8) -> String {
        let (orig, line) = self.cron_original();
        let full = orig.lines().find(|l| l.starts_with(line)).unwrap();
        let fields = if self.cron == Cron::File { 6 } else { 5 };
        let cmd_at = full
            .match_indices(' ')
            .nth(fields - 1)
            .map(|(i, _)| i + 1)
            .unwrap();
        let guarded = format!("{}{} '{}'", &full[..cmd_at], guard(), &full[cmd_at..]);
        match stage {
            0 => orig.to_string(),
            1 | 2 => orig.replace(full, &guarded),
            _ => orig.replace(line, &format!("#ciq-disabled# {line}")),
        }
    }

    pub fn config_at(&self, stage: u8) -> String {
        if stage >= 2 {
            CONFIG_PY.replace(FLAG_FALSE, FLAG_TRUE)
        } else {
            CONFIG_PY.to_string()
        }
    }

    pub fn active(&self, unit: &str) -> bool {
        self.p(&format!("sim/active/{unit}")).exists()
    }

    pub fn enabled(&self, unit: &str) -> bool {
        self.p(&format!("sim/enabled/{unit}")).exists()
    }

    /// Makes the stand-in fail on its `nth` next call of that kind (e.g. "stop-ciq-beat").
    pub fn fail(&self, what: &str, nth: u32) {
        std::fs::write(self.p(&format!("sim/fail/{what}")), nth.to_string()).unwrap();
    }

    /// systemctl calls that change something (everything but is-active/is-enabled).
    pub fn mutations(&self) -> Vec<String> {
        std::fs::read_to_string(self.p("sim/systemctl.log"))
            .unwrap_or_default()
            .lines()
            .filter(|l| !l.starts_with("is-"))
            .map(String::from)
            .collect()
    }

    pub fn crontab_writes(&self) -> usize {
        std::fs::read_to_string(self.p("sim/crontab.log"))
            .unwrap_or_default()
            .lines()
            .filter(|l| *l != "-l")
            .count()
    }

    pub fn audit(&self) -> Vec<serde_json::Value> {
        std::fs::read_to_string(self.p("audit.jsonl"))
            .unwrap_or_default()
            .lines()
            .map(|l| serde_json::from_str(l).expect("audit line is JSON"))
            .collect()
    }

    pub fn run(&self, args: &[&str]) -> Output {
        self.ciq.run(args)
    }

    pub fn ok(&self, args: &[&str]) -> String {
        self.ciq.ok(args)
    }

    /// Runs and asserts exit `code`; returns its text (stdout, then stderr).
    pub fn run_expecting(&self, args: &[&str], code: i32) -> String {
        text_expecting(&self.run(args), code)
    }

    /// `migrate-from-cron status --json`: exit 0 at a stage, 8 (DRIFT) when at none.
    pub fn status(&self) -> serde_json::Value {
        let o = self.run(&["--json", "migrate-from-cron", "status"]);
        let out = String::from_utf8_lossy(&o.stdout).to_string();
        let j: serde_json::Value = serde_json::from_str(&out).expect("status --json is JSON");
        let want = if j["stage"].is_null() { 8 } else { 0 };
        assert_eq!(o.status.code(), Some(want), "status exit code for {j}");
        j
    }

    /// Every file under the temp dir except the stand-ins' call logs.
    pub fn snapshot(&self) -> BTreeMap<PathBuf, Vec<u8>> {
        fn walk(dir: &Path, out: &mut BTreeMap<PathBuf, Vec<u8>>) {
            for e in std::fs::read_dir(dir).unwrap().flatten() {
                let p = e.path();
                if p.is_dir() {
                    walk(&p, out);
                } else if !["ctl.log", "crontab.log", "pty_driver.py"]
                    .iter()
                    .any(|n| p.to_string_lossy().ends_with(n))
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
    pub fn healthy(&self) {
        let now = now_ms().to_string();
        let r = &self.redis;
        r.cli(&["ZADD", &keys::workers_seen(), &now, "w1"]);
        r.cli(&["HSET", &keys::workers(), "w1", "{}"]);
        r.cli(&[
            "SET",
            &keys::beat_leader(),
            r#"{"holder":"beat-1","since_ms":1,"token":7}"#,
            "PX",
            "60000",
        ]);
        for (entry, queue) in [
            ("process_pending_tests", "default"),
            ("maintain", "maintenance"),
        ] {
            r.cli(&["HSET", &keys::beat_entry(entry), "last_fire_ms", &now]);
            r.cli(&[
                "HSET",
                &keys::q(queue).stats,
                &format!("last_done:{entry}"),
                &now,
            ]);
        }
        let recent = (now_ms() - 60_000).to_string();
        r.cli(&["HSET", &keys::platform_first_seen(), "41", &recent]);
        // The shadow stage saw test 40 five minutes before the cron started it.
        let ago = |m: u64| (now_ms() - m * 60_000).to_string();
        r.cli(&["SET", &keys::platform_shadow_since(), &ago(60)]);
        r.cli(&["HSET", &keys::platform_shadow_seen(), "40", &ago(10)]);
        r.cli(&["HSET", &keys::platform_shadow_started(), "40", &ago(5)]);
    }

    /// Drives the files and services to stage 3 through the real commands.
    pub fn to_stage_3(&self) {
        self.healthy();
        for n in ["1", "2", "3"] {
            self.ok(&["migrate-from-cron", "--to-stage", n, "--yes"]);
        }
    }

    pub fn assert_stage(&self, stage: u8) {
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
    pub fn redis_down(&mut self) {
        self.ciq.broker = format!("redis://127.0.0.1:{}/0", free_port());
    }

    pub fn redis_up(&mut self) {
        self.ciq.broker = self.redis.url();
    }
}

pub fn code(o: &Output) -> i32 {
    o.status.code().unwrap_or(-1)
}

/// Asserts the exit `code` of `o`; returns its text (stdout, then stderr).
pub fn text_expecting(o: &Output, code: i32) -> String {
    let all = text(o);
    assert_eq!(self::code(o), code, "{all}");
    all
}

pub fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

/// Asserts two snapshots are equal, naming the files that differ (not their bytes).
pub fn assert_same(
    now: &BTreeMap<PathBuf, Vec<u8>>,
    then: &BTreeMap<PathBuf, Vec<u8>>,
    what: &str,
) {
    let differ: Vec<String> = now
        .keys()
        .chain(then.keys())
        .filter(|k| now.get(*k) != then.get(*k))
        .map(|k| k.display().to_string())
        .collect();
    assert!(differ.is_empty(), "{what}: {differ:?}");
}
