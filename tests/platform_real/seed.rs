//! Rows seeded through the platform's own models (tests/platform_py/ciq_seed.py).

use super::*;

impl RealPlatform {
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
}
