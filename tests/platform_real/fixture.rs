//! One platform install per test: its folder, its MariaDB database (dropped on drop).

use super::config_py::config_py_text;
use super::*;
use crate::harness::databases::create_database;

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

/// The platform folder's own files: a symlink farm of the vendored copy, secret keys, a
/// service-account JSON with a fresh RSA key, and a git repo (INSTALL_FOLDER).
fn write_platform_folder(dir: &Path) {
    // A symlink farm of the vendored copy: nothing is ever written into third_party.
    // install/ci-vm/ci-windows is a real folder so it can hold the rclone.conf that
    // create_instance reads for Windows VMs (the platform's .gitignore keeps it out).
    symlink_farm(
        &vendored_platform(),
        dir,
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
                .current_dir(dir),
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
        write_platform_folder(&dir);

        let db_name = format!("ciq_pr_{}", ulid::Ulid::new().to_string().to_lowercase());
        let github_token = format!("ghp_ciqtest{:016x}", rand::random::<u64>());
        let config = config_py_text(&dir, &samples, &db_name, &github_token, &opts);
        std::fs::write(dir.join("config.py"), config).unwrap();

        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime");
        let admin_url = format!("{}/mysql", mysql_base());
        let pool = rt.block_on(create_database(
            &admin_url,
            &db_name,
            &format!("{}/{db_name}", mysql_base()),
            None,
            "MariaDB",
            "start it (./install.sh --test-deps) or set CIQ_TEST_MYSQL",
        ));
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
