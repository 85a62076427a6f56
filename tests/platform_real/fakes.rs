//! The fake GCP compute API and GitHub: their shared state file, knobs and records.

use super::*;

/// A status the platform posted to the fake GitHub.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GhStatus {
    pub sha: String,
    pub state: String,
    pub description: String,
    pub context: String,
}

impl RealPlatform {
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
}
