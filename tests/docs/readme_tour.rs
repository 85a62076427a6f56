//! The README's "A five-minute tour", run line by line against a fresh Redis with the
//! shipped sample config (examples/ciq.toml): each `$ ciq …` line's output (stdout, then
//! stderr) must be what the README shows, ids, times and durations aside. A README that
//! drifts from the binary fails here.
//!
//! `ciq work` runs until Ctrl-C, so the test runs it until the queue it serves is empty,
//! sends SIGINT, and expects a clean exit with nothing on stdout (the README shows none).

use crate::harness::*;
use std::collections::HashMap;
use std::process::Stdio;
use std::time::Duration;

/// The `console` block under "## A five-minute tour": (command, expected output lines).
fn tour() -> Vec<(String, Vec<String>)> {
    let readme = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md"))
        .expect("README.md");
    let section = readme
        .split("\n## A five-minute tour")
        .nth(1)
        .expect("README has a \"## A five-minute tour\" section");
    let block = section
        .split("```console\n")
        .nth(1)
        .and_then(|b| b.split("\n```").next())
        .expect("the tour has a ```console block");
    let mut steps: Vec<(String, Vec<String>)> = vec![];
    for line in block.lines() {
        match line.strip_prefix("$ ") {
            Some(cmd) => {
                // A trailing "# comment" explains the line; it is not part of it.
                let cmd = cmd.split(" #").next().unwrap().trim();
                steps.push((cmd.to_string(), vec![]));
            }
            None => steps
                .last_mut()
                .expect("the block starts with a $ line")
                .1
                .push(line.to_string()),
        }
    }
    steps
}

fn is_ulid(s: &str) -> bool {
    s.len() == 26
        && s.chars()
            .all(|c| c.is_ascii_digit() || c.is_ascii_uppercase())
}

/// An RFC 3339 UTC time as ciq prints it (2026-11-28T09:40:01.123Z) at the start of `s`;
/// its length.
fn time_at(s: &str) -> Option<usize> {
    let b = s.as_bytes();
    let pat = b"dddd-dd-ddTdd:dd:dd";
    if b.len() < pat.len() + 1 {
        return None;
    }
    for (i, p) in pat.iter().enumerate() {
        let ok = match p {
            b'd' => b[i].is_ascii_digit(),
            c => b[i] == *c,
        };
        if !ok {
            return None;
        }
    }
    let mut n = pat.len();
    if b.get(n) == Some(&b'.') {
        n += 1;
        while b.get(n).is_some_and(u8::is_ascii_digit) {
            n += 1;
        }
    }
    (b.get(n) == Some(&b'Z')).then_some(n + 1)
}

fn is_duration(w: &str) -> bool {
    let digits = w.trim_end_matches(|c: char| c.is_ascii_alphabetic());
    let unit = &w[digits.len()..];
    !digits.is_empty()
        && digits.chars().all(|c| c.is_ascii_digit() || c == '.')
        && ["ms", "s", "m", "h", "d"].contains(&unit)
}

/// Ids become `<id1>`, `<id2>`… in order of first appearance (so a repeated id must
/// repeat), times `<time>`, durations `<dur>`, the worker after "by " `<worker>`; runs
/// of spaces (table padding) collapse to one.
fn normalize(text: &[String], mut id: impl FnMut(&str) -> String) -> Vec<String> {
    let mut out = vec![];
    for line in text {
        let mut s = String::new();
        let mut rest = line.as_str();
        while let Some(c) = rest.chars().next() {
            if let Some(n) = time_at(rest) {
                s.push_str("<time>");
                rest = &rest[n..];
                continue;
            }
            if c.is_ascii_alphanumeric() {
                let n = rest
                    .find(|c: char| !c.is_ascii_alphanumeric() && c != '.')
                    .unwrap_or(rest.len());
                let word = rest[..n].trim_end_matches('.');
                let n = word.len();
                if is_ulid(word) {
                    s.push_str(&id(word));
                } else if is_duration(word) {
                    s.push_str("<dur>");
                } else {
                    s.push_str(word);
                }
                rest = &rest[n..];
                continue;
            }
            s.push(c);
            rest = &rest[c.len_utf8()..];
        }
        if let Some(i) = s.find(" by ") {
            let end = s[i + 4..].find(';').map_or(s.len(), |j| i + 4 + j);
            s.replace_range(i + 4..end, "<worker>");
        }
        out.push(s.split_whitespace().collect::<Vec<_>>().join(" "));
    }
    while out.last().is_some_and(|l| l.is_empty()) {
        out.pop();
    }
    out
}

fn lines(b: &[u8]) -> Vec<String> {
    String::from_utf8_lossy(b)
        .lines()
        .map(String::from)
        .collect()
}

#[test]
fn the_readme_tour_prints_what_the_readme_shows() {
    let steps = tour();
    assert!(steps.len() >= 5, "the tour has its commands: {steps:?}");
    let redis = Redis::start();
    let ciq = Ciq::new(&redis);
    // The shipped sample config, as `export CIQ_CONFIG=examples/ciq.toml` (its broker is
    // overridden by the test's CIQ_BROKER).
    ciq.config(
        &std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/examples/ciq.toml"))
            .unwrap(),
    );
    // README id -> the id this run printed at the same place.
    let mut readme_ids: HashMap<String, String> = HashMap::new();
    let mut run_ids: HashMap<String, String> = HashMap::new();
    for (cmd, want) in &steps {
        let words: Vec<String> = cmd
            .split_whitespace()
            .map(|w| readme_ids.get(w).cloned().unwrap_or_else(|| w.to_string()))
            .collect();
        assert_eq!(words[0], "ciq", "every tour line runs ciq: {cmd}");
        let args: Vec<&str> = words[1..].iter().map(String::as_str).collect();
        let got = if args.first() == Some(&"work") {
            let mut w = ciq
                .cmd(&args)
                .stdout(Stdio::piped())
                .stderr(Stdio::null())
                .spawn()
                .map(Proc)
                .expect("spawn ciq work");
            // Until every queue it serves has nothing pending or running.
            let served = args
                .windows(2)
                .find(|w| w[0] == "--queues" || w[0] == "-Q")
                .map(|w| w[1].split(',').map(String::from).collect::<Vec<_>>());
            assert!(
                wait_until(Duration::from_secs(20), || {
                    let d: serde_json::Value =
                        serde_json::from_str(&ciq.ok(&["depth", "--json"])).unwrap();
                    d.as_array().unwrap().iter().all(|q| {
                        let name = q["queue"].as_str().unwrap().to_string();
                        served.as_ref().is_some_and(|s| !s.contains(&name))
                            || (q["pending"] == 0 && q["active"] == 0)
                    })
                }),
                "{cmd}: the worker did not empty its queues"
            );
            unsafe { libc::kill(w.id() as i32, libc::SIGINT) };
            let st = wait_exit(&mut w, Duration::from_secs(15)).expect("ciq work stops on Ctrl-C");
            assert!(st.success(), "{cmd}: {st}");
            let mut out = vec![];
            std::io::Read::read_to_end(w.stdout.as_mut().unwrap(), &mut out).unwrap();
            lines(&out)
        } else {
            let o = ciq.run(&args);
            assert!(
                o.status.success(),
                "{cmd}: {}\n{}",
                o.status,
                String::from_utf8_lossy(&o.stderr)
            );
            let mut l = lines(&o.stdout);
            l.extend(lines(&o.stderr));
            l
        };
        let got_n = normalize(&got, |id| {
            let k = run_ids.len() + 1;
            run_ids
                .entry(id.into())
                .or_insert(format!("<id{k}>"))
                .clone()
        });
        // Pair the README's ids with this run's by position, then label them alike.
        for (r, g) in ulids(want).into_iter().zip(ulids(&got)) {
            readme_ids.entry(r).or_insert(g);
        }
        let want_n = normalize(want, |id| {
            readme_ids
                .get(id)
                .and_then(|g| run_ids.get(g))
                .cloned()
                .unwrap_or_else(|| format!("<README id {id} not printed here>"))
        });
        assert_eq!(
            want_n,
            got_n,
            "`{cmd}` printed (normalized, left: README, right: ciq):\n{}",
            got.join("\n")
        );
    }
    assert!(
        !ciq.dir().join("ciq-platform.db").exists(),
        "the tour created ciq-platform.db in the working directory"
    );
}

/// The ids in some lines, in order.
fn ulids(text: &[String]) -> Vec<String> {
    text.iter()
        .flat_map(|l| l.split(|c: char| !c.is_ascii_alphanumeric()))
        .filter(|w| is_ulid(w))
        .map(String::from)
        .collect()
}
