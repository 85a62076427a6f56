//! Off a terminal, `work`, `beat` and `up` log one JSON object a line that a strict log
//! pipeline accepts through a graceful stop: no key twice (the stop line once carried
//! `level` twice, so jq read its level as "Graceful"), a level from TRACE to ERROR, and a
//! periodic fire on time at DEBUG (at INFO it buried everything else, every second).

use crate::harness::*;
use serde::de::{Deserializer, MapAccess, Visitor};
use std::collections::BTreeMap;
use std::process::Stdio;
use std::time::Duration;

/// One log line: a JSON object whose keys are all different (serde_json's own map keeps
/// the last of two equal keys silently, so this visitor checks).
struct Line(BTreeMap<String, serde_json::Value>);

impl<'de> serde::Deserialize<'de> for Line {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Line;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a JSON object")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut m: A) -> Result<Line, A::Error> {
                let mut out = BTreeMap::new();
                while let Some((k, v)) = m.next_entry::<String, serde_json::Value>()? {
                    if out.contains_key(&k) {
                        return Err(serde::de::Error::custom(format!("duplicate key {k:?}")));
                    }
                    out.insert(k, v);
                }
                Ok(Line(out))
            }
        }
        d.deserialize_map(V)
    }
}

fn parse(name: &str, text: &str) -> Vec<BTreeMap<String, serde_json::Value>> {
    let mut out = vec![];
    for l in text.lines() {
        let line: Line = serde_json::from_str(l).unwrap_or_else(|e| {
            panic!("{name}: not one JSON object without repeated keys ({e}): {l}")
        });
        let level = line.0.get("level").and_then(|v| v.as_str()).unwrap_or("");
        assert!(
            ["TRACE", "DEBUG", "INFO", "WARN", "ERROR"].contains(&level),
            "{name}: level {level:?}: {l}"
        );
        out.push(line.0);
    }
    out
}

fn message(l: &BTreeMap<String, serde_json::Value>) -> &str {
    l.get("message").and_then(|v| v.as_str()).unwrap_or("")
}

#[test]
fn logs_off_a_terminal_are_strict_json_lines_and_periodic_fires_are_debug() {
    let redis = Redis::start_aof();
    let ciq = Ciq::new(&redis);
    ciq.config("[schedule.tick]\ntask = \"noop\"\nevery = \"1s\"\n");
    let data = ciq.dir().join("data").display().to_string();
    let mut procs = vec![];
    for (name, args) in [
        ("work", vec!["work", "--queues", "default"]),
        ("beat", vec!["beat", "--tick", "200ms"]),
        ("up", vec!["up", "--data-dir", &data]),
    ] {
        let log = std::fs::File::create(ciq.dir().join(format!("{name}.log"))).unwrap();
        let p = ciq
            .cmd(&args)
            .env("CIQ_LOG", "debug")
            .env(
                "CIQ_DATABASE",
                format!("sqlite://{}/p.db", ciq.dir().display()),
            )
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .map(Proc)
            .expect("spawn");
        procs.push((name, p));
    }
    // Long enough for a few fires of the 1 s entry.
    assert!(wait_until(Duration::from_secs(20), || {
        ciq.log("beat").matches("\"fired\"").count() + ciq.log("up").matches("\"fired\"").count()
            >= 3
    }));
    for (name, p) in &mut procs {
        unsafe {
            libc::kill(p.id() as i32, libc::SIGINT);
        }
        let st = wait_exit(p, Duration::from_secs(20)).expect("stops on SIGINT");
        assert!(st.success(), "{name}: {st}\n{}", ciq.log(name));
    }
    let mut fired = 0;
    for (name, _) in &procs {
        let lines = parse(name, &ciq.log(name));
        let stop = lines
            .iter()
            .find(|l| message(l) == "stop signal received")
            .unwrap_or_else(|| panic!("{name}: no stop line"));
        assert_eq!(stop["level"], "INFO", "{name}");
        assert_eq!(stop["stop"], "Graceful", "{name}");
        for l in lines.iter().filter(|l| message(l) == "fired") {
            assert_eq!(
                l["level"], "DEBUG",
                "{name}: a fire on time is DEBUG: {l:?}"
            );
            fired += 1;
        }
        assert!(
            lines.iter().any(|l| message(l).ends_with("stopped")),
            "{name}: the graceful stop is logged"
        );
    }
    assert!(fired >= 3, "the fires are logged at DEBUG");
}
