//! `ciq config show`: the table and `--json` list the same settings with the same
//! sources, every section included, and config.py is named where a value came from it.

use crate::harness::*;
use std::collections::BTreeMap;

/// (setting, source) of every table row.
fn table_rows(out: &str) -> BTreeMap<String, String> {
    out.lines()
        .filter(|l| l.starts_with('│'))
        .skip(1) // the header
        .map(|l| {
            let cells: Vec<&str> = l.trim_matches('│').split('┆').map(str::trim).collect();
            (cells[0].to_string(), cells[cells.len() - 1].to_string())
        })
        .collect()
}

/// (setting, source) of every leaf of the JSON: `{"file": {value, source}, "broker":
/// {"url": {value, source}}, …}`.
fn json_rows(v: &serde_json::Value) -> BTreeMap<String, String> {
    let src = |leaf: &serde_json::Value| leaf["source"].as_str().unwrap_or("").to_string();
    let mut out = BTreeMap::new();
    for (k, v) in v.as_object().expect("an object") {
        let o = v.as_object().expect("each entry is an object");
        if o.contains_key("value") && o.contains_key("source") {
            out.insert(k.clone(), src(v));
        } else {
            for (key, leaf) in o {
                out.insert(format!("{k}.{key}"), src(leaf));
            }
        }
    }
    out
}

#[test]
fn table_and_json_list_the_same_settings() {
    let redis = Redis::start();
    let ciq = Ciq::new(&redis);
    let py = ciq.dir().join("config.py");
    std::fs::write(
        &py,
        "DATABASE_URI = 'sqlite:////tmp/ciq-config-show-test.db'\nGCP_INSTANCE_MAX_RUNTIME = 90\n",
    )
    .unwrap();
    ciq.config(&format!(
        "[platform]\nconfig_py = \"{}\"\nplatforms = [\"linux\"]\n[broker]\nmin_replicas = 0\n[beat]\nlease = \"9s\"\n[schedule.tick]\ntask = \"noop\"\nevery = \"1m\"\n[worker]\nsweep = \"3s\"\n",
        py.display()
    ));
    let table = table_rows(&ciq.ok(&["config", "show"]));
    let json: serde_json::Value =
        serde_json::from_str(&ciq.ok(&["config", "show", "--json"])).unwrap();
    let from_json = json_rows(&json);
    let only_table: Vec<_> = table
        .keys()
        .filter(|k| !from_json.contains_key(*k))
        .collect();
    let only_json: Vec<_> = from_json
        .keys()
        .filter(|k| !table.contains_key(*k))
        .collect();
    assert!(
        only_table.is_empty() && only_json.is_empty(),
        "only in the table: {only_table:?}; only in --json: {only_json:?}"
    );
    assert_eq!(table, from_json, "sources differ between the forms");
    let sections: std::collections::BTreeSet<&str> = table
        .keys()
        .filter_map(|k| k.split_once('.').map(|(s, _)| s))
        .collect();
    for s in [
        "broker", "queues", "worker", "tasks", "schedule", "beat", "platform", "rollout",
    ] {
        assert!(sections.contains(s), "section {s} missing: {sections:?}");
    }
    for (k, src) in [
        ("platform.max_runtime", "config.py"),
        ("database", "config.py"),
        ("platform.platforms", "file"),
        ("platform.lock_wait", "default"),
        ("broker.min_replicas", "file"),
        ("beat.lease", "file"),
        ("beat.tick", "default"),
        ("schedule.tick", "file"),
        ("worker.sweep", "file"),
        ("broker.url", "env"),
    ] {
        assert_eq!(
            table.get(k).map(String::as_str),
            Some(src),
            "{k}: {table:?}"
        );
    }
    assert_eq!(json["platform"]["max_runtime"]["value"], "1h 30m");
    assert_eq!(json["beat"]["lease"]["value"], "9s");
}

#[test]
fn config_show_names_each_source() {
    let redis = Redis::start();
    let ciq = Ciq::new(&redis);
    ciq.config("[worker]\nlease = \"7s\"\n[rollout]\nflag = \"USE_QUEUE\"\n");
    let out = ciq.ok(&["config", "show"]);
    let row = |key: &str| {
        out.lines()
            .find(|l| l.contains(&format!(" {key} ")))
            .unwrap_or_else(|| panic!("{key} missing:\n{out}"))
            .to_string()
    };
    assert!(row("broker.url").contains("env"), "{}", row("broker.url"));
    assert!(row("worker.lease").contains("7s") && row("worker.lease").contains("file"));
    assert!(row("worker.sweep").contains("default"));
    assert!(row("rollout.flag").contains("USE_QUEUE") && row("rollout.flag").contains("file"));
    assert!(row("rollout.units").contains("default"));
    assert!(row("platform.max_runtime").contains("default"));
    assert!(row("beat.lease").contains("default"));
    let o = ciq
        .cmd(&["config", "show"])
        .env("CIQ_BROKER", "redis://u:s3cret@127.0.0.1:1/0")
        .output()
        .unwrap();
    assert!(
        !String::from_utf8_lossy(&o.stdout).contains("s3cret"),
        "passwords are masked"
    );
}
