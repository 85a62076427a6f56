//! The real CCExtractor Sample Platform (third_party/sample-platform, unmodified) run by the
//! tests: its own code on its own MariaDB database, with fakes for the GCP compute API and
//! GitHub put in place from the test's side (tests/platform_py/sitecustomize.py first on
//! PYTHONPATH). Needs `.venv-platform/` (./install.sh --test-deps).
//!
//! `RealPlatform` is one platform install per test: its MariaDB database (dropped on drop),
//! a platform folder (a symlink farm of the vendored copy plus a generated config.py, secret
//! keys, a service-account JSON with a fresh RSA key, and a git repo as INSTALL_FOLDER), a
//! fake-state directory shared by every Python process of the test, and a lock directory
//! for the bridge's read/write lock.

#![allow(dead_code)]

mod bridge;
mod ciq;
mod contrib;
mod gcp_delete;

use serde_json::{json, Value};
use sqlx::Row;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

pub fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The vendored, unmodified platform.
pub fn vendored_platform() -> PathBuf {
    repo_root().join("third_party/sample-platform")
}

/// The platform venv's python; a clear failure when install.sh --test-deps was not run.
pub fn platform_python() -> PathBuf {
    let p = repo_root().join(".venv-platform/bin/python");
    assert!(
        p.exists(),
        "{} is missing: run ./install.sh --test-deps (it creates the sample platform's venv)",
        p.display()
    );
    p
}

pub fn bridge_script() -> PathBuf {
    repo_root().join("contrib/sample-platform/ciq_bridge.py")
}

/// What one bridge run printed: its exit code, the JSON of its last stdout line, its stderr.
#[derive(Debug)]
pub struct BridgeOut {
    pub code: i32,
    pub json: Value,
    pub stderr: String,
}

impl BridgeOut {
    pub fn from_output(o: &Output) -> BridgeOut {
        let stdout = String::from_utf8_lossy(&o.stdout);
        let stderr = String::from_utf8_lossy(&o.stderr).to_string();
        let last = stdout
            .lines()
            .rev()
            .find(|l| !l.trim().is_empty())
            .unwrap_or("");
        let json = serde_json::from_str(last).unwrap_or_else(|e| {
            panic!("the bridge's last stdout line is not JSON ({e}): {stdout:?}\nstderr:\n{stderr}")
        });
        BridgeOut {
            code: o.status.code().unwrap_or(-1),
            json,
            stderr,
        }
    }
    /// The "result" field.
    pub fn result(&self) -> &str {
        self.json["result"].as_str().unwrap_or("")
    }
    pub fn reason(&self) -> &str {
        self.json["reason"].as_str().unwrap_or("")
    }
}

/// A status the platform posted to the fake GitHub.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GhStatus {
    pub sha: String,
    pub state: String,
    pub description: String,
    pub context: String,
}

/// Settings of the generated config.py.
#[derive(Debug, Clone)]
pub struct Options {
    /// GCP_INSTANCE_MAX_RUNTIME (minutes).
    pub max_runtime_min: u32,
    /// Extra lines appended to config.py.
    pub extra_config: String,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            max_runtime_min: 120,
            extra_config: String::new(),
        }
    }
}

pub struct RealPlatform {
    /// The platform folder (cwd of every platform process) and its INSTALL_FOLDER.
    pub dir: PathBuf,
    /// CIQ_FAKE_STATE: the fake GCP and GitHub shared by the processes of this test.
    pub state: PathBuf,
    /// The bridge's --lock-dir.
    pub lock_dir: PathBuf,
    /// SAMPLE_REPOSITORY (start_test writes vm_data/ here).
    pub samples: PathBuf,
    /// The MariaDB database name.
    pub db_name: String,
    /// The secret GITHUB_TOKEN written to config.py (tests check it never leaks).
    pub github_token: String,
    tmp: tempfile::TempDir,
    rt: tokio::runtime::Runtime,
    pool: sqlx::MySqlPool,
    admin_url: String,
}

fn mysql_base() -> String {
    std::env::var("CIQ_TEST_MYSQL").unwrap_or_else(|_| "mysql://root@127.0.0.1:3306".into())
}

fn run_ok(cmd: &mut Command, what: &str) -> Output {
    let o = cmd
        .output()
        .unwrap_or_else(|e| panic!("{what}: cannot run: {e}"));
    assert!(
        o.status.success(),
        "{what} failed ({}):\n{}\n{}",
        o.status,
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
    o
}

/// Links every entry of `src` into `dst` (made real: `logs`, and the folders along `deep`).
fn symlink_farm(src: &Path, dst: &Path, deep: &[&str]) {
    for e in std::fs::read_dir(src).unwrap_or_else(|e| panic!("{}: {e}", src.display())) {
        let e = e.unwrap();
        let name = e.file_name();
        let n = name.to_string_lossy();
        if n == "logs" || n.starts_with(".git") || n == "__pycache__" {
            continue;
        }
        if deep.first() == Some(&&*n) {
            std::fs::create_dir_all(dst.join(&name)).unwrap();
            symlink_farm(&e.path(), &dst.join(&name), &deep[1..]);
        } else {
            std::os::unix::fs::symlink(e.path(), dst.join(&name)).unwrap();
        }
    }
}

/// The bridge's read/write platform lock held by the test (the same flock protocol as
/// ciq_bridge.py and `ciq cron-guard`); released on drop.
pub struct PlatformLock {
    _gate: std::fs::File,
    _run: std::fs::File,
}

impl RealPlatform {
    /// Holds the platform lock exclusively, as `ciq cron-guard` does around a cron run.
    pub fn lock_exclusive(&self) -> PlatformLock {
        self.lock(libc::LOCK_EX)
    }

    /// Holds the platform lock shared, as a start does.
    pub fn lock_shared(&self) -> PlatformLock {
        self.lock(libc::LOCK_SH)
    }

    fn lock(&self, op: i32) -> PlatformLock {
        use std::os::unix::io::AsRawFd;
        std::fs::create_dir_all(&self.lock_dir).unwrap();
        let open = |n: &str| {
            std::fs::OpenOptions::new()
                .create(true)
                .truncate(false)
                .write(true)
                .open(self.lock_dir.join(n))
                .unwrap()
        };
        let (gate, run) = (open("gate.lock"), open("run.lock"));
        unsafe {
            libc::flock(gate.as_raw_fd(), op);
            libc::flock(run.as_raw_fd(), op);
            libc::flock(gate.as_raw_fd(), libc::LOCK_UN);
        }
        PlatformLock {
            _gate: gate,
            _run: run,
        }
    }
}

impl RealPlatform {
    pub fn new() -> RealPlatform {
        Self::with_options(Options::default())
    }

    /// A platform install with its schema created by its own models (ciq_seed.py with an
    /// empty spec runs the platform's create_session, which calls create_all).
    pub fn with_options(opts: Options) -> RealPlatform {
        platform_python();
        let tmp = tempfile::tempdir().expect("tempdir");
        let dir = tmp.path().join("sample-platform");
        let state = tmp.path().join("fake-state");
        let lock_dir = tmp.path().join("locks");
        let samples = tmp.path().join("samples");
        for d in [&dir, &state, &samples, &dir.join("logs")] {
            std::fs::create_dir_all(d).unwrap();
        }
        // A symlink farm of the vendored copy: nothing is ever written into third_party.
        // install/ci-vm/ci-windows is a real folder so it can hold the rclone.conf that
        // create_instance reads for Windows VMs (the platform's .gitignore keeps it out).
        symlink_farm(
            &vendored_platform(),
            &dir,
            &["install", "ci-vm", "ci-windows"],
        );
        std::fs::write(
            dir.join("install/ci-vm/ci-windows/rclone.conf"),
            "[fake]\ntype = local\n",
        )
        .unwrap();
        std::fs::write(dir.join("secret_key"), rand::random::<[u8; 24]>()).unwrap();
        std::fs::write(dir.join("secret_csrf"), rand::random::<[u8; 24]>()).unwrap();
        let key = run_ok(
            Command::new("openssl")
                .args(["genrsa", "2048"])
                .stderr(Stdio::null()),
            "openssl genrsa",
        );
        let sa = json!({
            "type": "service_account",
            "project_id": "ciq-test-project",
            "private_key_id": format!("{:x}", rand::random::<u64>()),
            "private_key": String::from_utf8_lossy(&key.stdout),
            "client_email": "ciq-test@ciq-test-project.iam.gserviceaccount.com",
            "client_id": "1",
            "token_uri": "https://oauth2.googleapis.com/token",
        });
        std::fs::write(dir.join("service-account.json"), sa.to_string()).unwrap();
        let git = |args: &[&str]| {
            run_ok(
                Command::new("git")
                    .args(["-c", "user.name=ciq-test", "-c", "user.email=ciq@localhost"])
                    .args(args)
                    .current_dir(&dir),
                "git",
            )
        };
        git(&["init", "-q"]);
        git(&[
            "commit",
            "-q",
            "--allow-empty",
            "-m",
            "platform_real fixture",
        ]);

        let db_name = format!("ciq_pr_{}", ulid::Ulid::new().to_string().to_lowercase());
        let github_token = format!("ghp_ciqtest{:016x}", rand::random::<u64>());
        let config = format!(
            r#"# Generated by tests/platform_real for one test.
APPLICATION_ROOT = None
CSRF_ENABLED = True
DATABASE_URI = 'mysql+pymysql://root@127.0.0.1:3306/{db_name}?charset=utf8'
GITHUB_TOKEN = '{github_token}'
GITHUB_OWNER = 'CCExtractor'
GITHUB_REPOSITORY = 'ccextractor'
SERVER_NAME = 'localhost'
EMAIL_DOMAIN = ''
EMAIL_API_KEY = ''
HMAC_KEY = 'hmac-test-key'
GITHUB_CI_KEY = ''
GITHUB_CLIENT_ID = ''
GITHUB_CLIENT_KEY = ''
INSTALL_FOLDER = '{dir}'
SAMPLE_REPOSITORY = '{samples}'
SESSION_COOKIE_PATH = '/'
CONSOLE_URL = ''
FTP_PORT = 21
MAX_CONTENT_LENGTH = 512 * 1024 * 1024
MIN_PWD_LEN = 10
MAX_PWD_LEN = 500
SCOPES = ['https://www.googleapis.com/auth/cloud-platform']
SERVICE_ACCOUNT_FILE = 'service-account.json'
ZONE = "us-west4-b"
PROJECT_NAME = "ciq-test-project"
MACHINE_TYPE = f"zones/{{ZONE}}/machineTypes/n1-standard-1"
WINDOWS_INSTANCE_PROJECT_NAME = "windows-cloud"
WINDOWS_INSTANCE_FAMILY_NAME = "windows-2019"
LINUX_INSTANCE_PROJECT_NAME = "ubuntu-os-cloud"
LINUX_INSTANCE_FAMILY_NAME = "ubuntu-minimal-2404-lts-amd64"
GCP_INSTANCE_MAX_RUNTIME = {max_runtime}
GCS_BUCKET_NAME = 'spdev'
GCS_SIGNED_URL_EXPIRY_LIMIT = 720
{extra}
"#,
            dir = dir.display(),
            samples = samples.display(),
            max_runtime = opts.max_runtime_min,
            extra = opts.extra_config,
        );
        std::fs::write(dir.join("config.py"), config).unwrap();

        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime");
        let admin_url = format!("{}/mysql", mysql_base());
        let pool = rt.block_on(async {
            let admin = sqlx::MySqlPool::connect(&admin_url).await.unwrap_or_else(|e| {
                panic!("MariaDB at {admin_url} is unreachable ({e}); start it (./install.sh --test-deps) or set CIQ_TEST_MYSQL")
            });
            sqlx::raw_sql(&format!("CREATE DATABASE {db_name}"))
                .execute(&admin)
                .await
                .expect("create database");
            admin.close().await;
            sqlx::MySqlPool::connect(&format!("{}/{db_name}", mysql_base()))
                .await
                .expect("connect the test database")
        });
        let p = RealPlatform {
            dir,
            state,
            lock_dir,
            samples,
            db_name,
            github_token,
            tmp,
            rt,
            pool,
            admin_url,
        };
        p.seed(json!({}));
        p
    }

    /// The generated config.py.
    pub fn config_py(&self) -> PathBuf {
        self.dir.join("config.py")
    }

    /// DATABASE_URI as config.py has it.
    pub fn database_uri(&self) -> String {
        format!(
            "mysql+pymysql://root@127.0.0.1:3306/{}?charset=utf8",
            self.db_name
        )
    }

    /// The same database as a sqlx URL.
    pub fn sqlx_url(&self) -> String {
        format!("{}/{}", mysql_base(), self.db_name)
    }

    /// The PYTHONPATH that puts the fakes in place (tests/platform_py first).
    pub fn python_path() -> PathBuf {
        repo_root().join("tests/platform_py")
    }

    /// The environment every platform process of this test gets (nothing else): the fakes
    /// on PYTHONPATH, the shared fake state, bytecode kept out of third_party. Give these
    /// to a ciq exec runner that runs the bridge.
    pub fn env_vars(&self) -> Vec<(String, String)> {
        let s = |p: &Path| p.display().to_string();
        vec![
            ("PATH".into(), std::env::var("PATH").unwrap_or_default()),
            ("HOME".into(), s(self.tmp.path())),
            ("LANG".into(), "C.UTF-8".into()),
            ("PYTHONPATH".into(), s(&Self::python_path())),
            ("CIQ_FAKE_STATE".into(), s(&self.state)),
            (
                "PYTHONPYCACHEPREFIX".into(),
                s(&PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("platform-pycache")),
            ),
        ]
    }

    /// Clears `cmd`'s environment, sets `env_vars()` and the platform folder as cwd.
    pub fn apply_env(&self, cmd: &mut Command) {
        cmd.env_clear().envs(self.env_vars()).current_dir(&self.dir);
    }

    /// The bridge's argv before the command: `[python, ciq_bridge.py, --platform-dir, DIR,
    /// --lock-dir, LOCKS]` (append e.g. `start-test`, `{test_id}` in a ciq exec runner).
    pub fn bridge_argv(&self) -> Vec<String> {
        vec![
            platform_python().display().to_string(),
            bridge_script().display().to_string(),
            "--platform-dir".into(),
            self.dir.display().to_string(),
            "--lock-dir".into(),
            self.lock_dir.display().to_string(),
        ]
    }

    /// The platform venv's python with this test's environment, in the platform folder.
    pub fn python(&self) -> Command {
        let mut c = Command::new(platform_python());
        self.apply_env(&mut c);
        c
    }

    /// `python ciq_bridge.py --platform-dir DIR --lock-dir LOCKS <args>` (not yet run).
    pub fn bridge_cmd(&self, args: &[&str]) -> Command {
        let argv = self.bridge_argv();
        let mut c = Command::new(&argv[0]);
        self.apply_env(&mut c);
        c.args(&argv[1..]).args(args);
        c
    }

    pub fn bridge(&self, args: &[&str]) -> BridgeOut {
        let o = self
            .bridge_cmd(args)
            .output()
            .expect("run the bridge with the platform venv");
        BridgeOut::from_output(&o)
    }

    pub fn start_test(&self, id: i64) -> BridgeOut {
        self.bridge(&["start-test", &id.to_string()])
    }

    pub fn maintain(&self) -> BridgeOut {
        self.bridge(&["maintain"])
    }

    /// The platform's own pending query per platform (`pending` command).
    pub fn pending(&self) -> Value {
        let o = self.bridge(&["pending"]);
        assert_eq!(o.code, 0, "pending: {:?}\n{}", o.json, o.stderr);
        o.json["platforms"].clone()
    }

    /// The platform's real cron: `python mod_ci/cron.py` in the platform folder (what the
    /// crontab line runs), not yet started.
    pub fn cron_cmd(&self) -> Command {
        let mut c = self.python();
        c.arg(self.dir.join("mod_ci/cron.py"));
        c
    }

    /// Runs the cron to completion; panics if it fails.
    pub fn run_cron(&self) -> Output {
        run_ok(&mut self.cron_cmd(), "mod_ci/cron.py")
    }

    /// Seeds rows through the platform's models (tests/platform_py/ciq_seed.py; see its spec)
    /// and returns its JSON ({"tests": [ids], "tables": [...]}). The commits of seeded tests
    /// are made known to the fake GitHub (their artifacts exist unless a knob says otherwise).
    pub fn seed(&self, spec: Value) -> Value {
        let commits: Vec<String> = spec["tests"]
            .as_array()
            .map(|ts| {
                ts.iter()
                    .map(|t| t["commit"].as_str().unwrap_or(&"a".repeat(40)).to_string())
                    .collect()
            })
            .unwrap_or_default();
        if !commits.is_empty() {
            self.fake(|s| {
                let known = s["known_commits"].as_array().cloned().unwrap_or_default();
                let mut known: Vec<Value> = known;
                for c in commits {
                    if !known.iter().any(|k| k == &json!(c)) {
                        known.push(json!(c));
                    }
                }
                s["known_commits"] = Value::Array(known);
            });
        }
        let o = run_ok(
            self.python()
                .arg(Self::python_path().join("ciq_seed.py"))
                .arg(spec.to_string()),
            "ciq_seed.py",
        );
        let stdout = String::from_utf8_lossy(&o.stdout);
        serde_json::from_str(stdout.lines().last().unwrap_or("")).expect("ciq_seed.py JSON")
    }

    /// Every edge case of the platform's pending query: 6 linux tests (canceled, completed,
    /// a non-final progress row, one with an instance, two plain) and 2 windows tests; linux's
    /// first maintenance row says running (a later one disabled), windows' first says
    /// disabled. Returns (linux ids, windows ids).
    pub fn seed_edge_cases(&self) -> (Vec<i64>, Vec<i64>) {
        let l = self.add_tests(6, "linux", "commit");
        let w = self.add_tests(2, "windows", "commit");
        self.seed(json!({
            "progress": [
                {"test_id": l[0], "status": "canceled", "message": "done"},
                {"test_id": l[1], "status": "completed", "message": "done"},
                {"test_id": l[2], "status": "preparation", "message": "non-final"},
            ],
            "instances": [{"name": format!("linux-{}", l[3]), "test_id": l[3]}],
            "maintenance": [
                {"platform": "linux", "disabled": false},
                {"platform": "linux", "disabled": true},
                {"platform": "windows", "disabled": true},
                {"platform": "windows", "disabled": false},
            ],
        }));
        (l, w)
    }

    /// Seeds `n` tests (one commit each, `sha` + index) and returns their ids.
    /// `kind` is "commit" or "pr" (PR tests get pr_nr 1, an open PR on the fake).
    pub fn add_tests(&self, n: usize, platform: &str, kind: &str) -> Vec<i64> {
        let tests: Vec<Value> = (0..n)
            .map(|i| {
                json!({"platform": platform, "type": kind, "pr_nr": if kind == "pr" { 1 } else { 0 },
                       "commit": format!("{:016x}{:016x}{i:08x}", rand::random::<u64>(), rand::random::<u64>())})
            })
            .collect();
        let v = self.seed(json!({ "tests": tests }));
        v["tests"]
            .as_array()
            .unwrap()
            .iter()
            .map(|x| x.as_i64().unwrap())
            .collect()
    }

    /// The commit of a test (for artifact knobs and statuses).
    pub fn commit_of(&self, test_id: i64) -> String {
        self.strings(&format!("SELECT `commit` FROM test WHERE id = {test_id}"))
            .first()
            .map(|r| r[0].clone())
            .unwrap_or_default()
    }

    /// Reads and changes the fake state under its lock (the Python side uses the same flock).
    pub fn fake<R>(&self, f: impl FnOnce(&mut Value) -> R) -> R {
        use std::os::unix::io::AsRawFd;
        let lock = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.state.join("state.lock"))
            .unwrap();
        unsafe { libc::flock(lock.as_raw_fd(), libc::LOCK_EX) };
        let path = self.state.join("state.json");
        let mut s: Value = std::fs::read_to_string(&path)
            .ok()
            .and_then(|t| serde_json::from_str(&t).ok())
            .unwrap_or_else(|| json!({}));
        if !s["knobs"].is_object() {
            s["knobs"] = json!({});
        }
        if !s["vms"].is_object() {
            s["vms"] = json!({});
        }
        let r = f(&mut s);
        let tmp = self.state.join("state.json.rust");
        std::fs::write(&tmp, serde_json::to_string_pretty(&s).unwrap()).unwrap();
        std::fs::rename(&tmp, &path).unwrap();
        unsafe { libc::flock(lock.as_raw_fd(), libc::LOCK_UN) };
        r
    }

    /// Sets one knob (see tests/platform_py/ciq_fakes.py).
    pub fn knob(&self, name: &str, value: Value) {
        self.fake(|s| s["knobs"][name] = value);
    }

    /// The artifact state of one commit: "ready", "in_progress", "failed" or "missing".
    pub fn artifact(&self, commit: &str, st: &str) {
        self.fake(|s| {
            if !s["knobs"]["artifacts"].is_object() {
                s["knobs"]["artifacts"] = json!({});
            }
            s["knobs"]["artifacts"][commit] = json!(st);
        });
    }

    /// Puts a VM on the fake GCP, created `minutes_ago`.
    pub fn add_vm(&self, name: &str, minutes_ago: i64) {
        let t = chrono::Utc::now() - chrono::Duration::minutes(minutes_ago);
        let ts = t.format("%Y-%m-%dT%H:%M:%S%.3f+00:00").to_string();
        self.fake(|s| {
            s["vms"][name] = json!({"name": name, "creationTimestamp": ts, "status": "RUNNING"})
        });
    }

    pub fn fake_state(&self) -> Value {
        self.fake(|s| s.clone())
    }

    fn records(&self, key: &str) -> Vec<Value> {
        self.fake_state()[key]
            .as_array()
            .cloned()
            .unwrap_or_default()
    }

    /// Names of the VMs created on the fake GCP, in order (one entry per create).
    pub fn vm_creates(&self) -> Vec<String> {
        self.records("creates")
            .iter()
            .map(|r| r["name"].as_str().unwrap().to_string())
            .collect()
    }

    /// Names of every VM insert call (successful or not), in order: two for one name means
    /// two starts of the same test reached GCP.
    pub fn vm_insert_attempts(&self) -> Vec<String> {
        self.records("insert_attempts")
            .iter()
            .map(|r| r["name"].as_str().unwrap().to_string())
            .collect()
    }

    /// (name, succeeded) of every delete call, in order.
    pub fn vm_deletes(&self) -> Vec<(String, bool)> {
        self.records("deletes")
            .iter()
            .map(|r| {
                (
                    r["name"].as_str().unwrap().to_string(),
                    r["ok"].as_bool().unwrap_or(false),
                )
            })
            .collect()
    }

    /// VMs currently on the fake GCP.
    pub fn vms(&self) -> Vec<String> {
        let mut v: Vec<String> = self.fake_state()["vms"]
            .as_object()
            .map(|m| m.keys().cloned().collect())
            .unwrap_or_default();
        v.sort();
        v
    }

    /// Every commit status posted to the fake GitHub, in order.
    pub fn statuses(&self) -> Vec<GhStatus> {
        self.records("statuses")
            .iter()
            .map(|r| GhStatus {
                sha: r["sha"].as_str().unwrap_or("").into(),
                state: r["state"].as_str().unwrap_or("").into(),
                description: r["description"].as_str().unwrap_or("").into(),
                context: r["context"].as_str().unwrap_or("").into(),
            })
            .collect()
    }

    /// Rows of text columns (CAST in SQL where needed); reads only.
    pub fn strings(&self, sql: &str) -> Vec<Vec<String>> {
        self.rt.block_on(async {
            let rows = sqlx::query(sql)
                .fetch_all(&self.pool)
                .await
                .unwrap_or_else(|e| panic!("{sql}: {e}"));
            rows.iter()
                .map(|r| {
                    (0..r.len())
                        .map(|i| {
                            r.try_get::<Option<String>, _>(i)
                                .unwrap_or_else(|e| panic!("{sql}: column {i}: {e}"))
                                .unwrap_or_else(|| "NULL".into())
                        })
                        .collect()
                })
                .collect()
        })
    }

    /// (name, test_id) of the gcp_instance rows; test_id None when NULL.
    pub fn gcp_instances(&self) -> Vec<(String, Option<i64>)> {
        self.strings(
            "SELECT CAST(name AS CHAR), CAST(test_id AS CHAR) FROM gcp_instance ORDER BY name",
        )
        .into_iter()
        .map(|r| (r[0].clone(), r[1].parse().ok()))
        .collect()
    }

    /// (status, message) of a test's progress rows, in order.
    pub fn progress(&self, test_id: i64) -> Vec<(String, String)> {
        self.strings(&format!(
            "SELECT CAST(status AS CHAR), CAST(message AS CHAR) FROM test_progress WHERE test_id = {test_id} ORDER BY id"
        ))
        .into_iter()
        .map(|r| (r[0].clone(), r[1].clone()))
        .collect()
    }

    /// (vm_name, operation_name, retry_count) of the pending_deletion rows.
    pub fn pending_deletions(&self) -> Vec<(String, String, i64)> {
        self.strings("SELECT CAST(vm_name AS CHAR), CAST(operation_name AS CHAR), CAST(retry_count AS CHAR) FROM pending_deletion ORDER BY vm_name")
            .into_iter()
            .map(|r| (r[0].clone(), r[1].clone(), r[2].parse().unwrap_or(-1)))
            .collect()
    }

    pub fn tables(&self) -> Vec<String> {
        self.strings("SELECT CAST(TABLE_NAME AS CHAR) FROM information_schema.TABLES WHERE TABLE_SCHEMA = DATABASE() ORDER BY 1")
            .into_iter()
            .map(|r| r[0].clone())
            .collect()
    }

    /// The platform's own log file (logs/platform.log in the platform folder).
    pub fn platform_log(&self) -> String {
        std::fs::read_to_string(self.dir.join("logs/platform.log")).unwrap_or_default()
    }

    pub fn tmp(&self) -> &Path {
        self.tmp.path()
    }
}

impl Drop for RealPlatform {
    fn drop(&mut self) {
        let (name, admin) = (self.db_name.clone(), self.admin_url.clone());
        let pool = self.pool.clone();
        self.rt.block_on(async move {
            pool.close().await;
            if let Ok(a) = sqlx::MySqlPool::connect(&admin).await {
                let _ = sqlx::raw_sql(&format!("DROP DATABASE IF EXISTS {name}"))
                    .execute(&a)
                    .await;
                a.close().await;
            }
        });
    }
}
