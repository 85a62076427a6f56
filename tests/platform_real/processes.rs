//! The platform's Python processes: the environment each gets, the venv's python, the cron.

use super::*;

impl RealPlatform {
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

    /// The platform venv's python with this test's environment, in the platform folder.
    pub fn python(&self) -> Command {
        let mut c = Command::new(platform_python());
        self.apply_env(&mut c);
        c
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
}
