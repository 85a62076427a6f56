//! A `ciq web` child and a minimal HTTP/1.1 client over a std TcpStream (one request
//! per connection), so the tests see exactly what a browser or curl would.

use crate::harness::*;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::Stdio;
use std::time::Duration;

pub const TOKEN: &str = "test-token-0123456789abcdef";

pub struct Web {
    pub _proc: Proc,
    /// "127.0.0.1:PORT"
    pub addr: String,
    /// The one line `ciq web` printed.
    pub line: String,
}

pub struct Resp {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: String,
}

impl Resp {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {} {}", self.status, self.body))
    }
}

/// Starts `ciq web --listen 127.0.0.1:0` with `extra` flags (a token file with `TOKEN`
/// unless `extra` names one) and waits for its URL line.
pub fn start(ciq: &Ciq, extra: &[&str]) -> Web {
    let mut args = vec!["web", "--listen", "127.0.0.1:0"];
    let tf = ciq.dir().join("web-token");
    std::fs::write(&tf, format!("{TOKEN}\n")).unwrap();
    let tfs = tf.to_string_lossy().to_string();
    if !extra.contains(&"--random-token") {
        args.extend(["--token-file", tfs.as_str()]);
    }
    args.extend(extra.iter().filter(|a| **a != "--random-token"));
    // Wrapped at once: a failing test below still kills it.
    let mut child = Proc(
        ciq.cmd(&args)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn ciq web"),
    );
    let out = child.0.stdout.take().unwrap();
    let mut line = String::new();
    BufReader::new(out)
        .read_line(&mut line)
        .expect("read url line");
    let addr = line
        .split("://")
        .nth(1)
        .and_then(|r| r.split('/').next())
        .unwrap_or_else(|| panic!("no URL in {line:?}"))
        .to_string();
    Web {
        _proc: child,
        addr,
        line,
    }
}

impl Web {
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    /// One request; `headers` as ("Name", "value").
    pub fn req(&self, method: &str, path: &str, headers: &[(&str, &str)], body: &str) -> Resp {
        let mut s = TcpStream::connect(&self.addr).expect("connect");
        s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
        let mut r = format!(
            "{method} {path} HTTP/1.1\r\nHost: {}\r\nConnection: close\r\nContent-Length: {}\r\n",
            self.addr,
            body.len()
        );
        for (k, v) in headers {
            r.push_str(&format!("{k}: {v}\r\n"));
        }
        r.push_str("\r\n");
        r.push_str(body);
        s.write_all(r.as_bytes()).unwrap();
        let mut raw = vec![];
        s.read_to_end(&mut raw).expect("read response");
        let raw = String::from_utf8_lossy(&raw).to_string();
        let (head, body) = raw.split_once("\r\n\r\n").unwrap_or((&raw, ""));
        let mut lines = head.lines();
        let status = lines
            .next()
            .and_then(|l| l.split(' ').nth(1))
            .and_then(|c| c.parse().ok())
            .unwrap_or(0);
        let headers = lines
            .filter_map(|l| l.split_once(':'))
            .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
            .collect();
        let chunked = head
            .to_ascii_lowercase()
            .contains("transfer-encoding: chunked");
        Resp {
            status,
            headers,
            body: if chunked {
                dechunk(body)
            } else {
                body.to_string()
            },
        }
    }

    /// GET with the bearer token.
    /// POST /api/actions with the bearer token and a JSON body.
    pub fn post_action(&self, json: &str) -> Resp {
        let auth = format!("Bearer {TOKEN}");
        self.req(
            "POST",
            "/api/actions",
            &[
                ("Authorization", &auth),
                ("Content-Type", "application/json"),
            ],
            json,
        )
    }

    pub fn get(&self, path: &str) -> Resp {
        let auth = format!("Bearer {TOKEN}");
        self.req("GET", path, &[("Authorization", &auth)], "")
    }

    /// GET as a browser that has the cookie.
    pub fn page(&self, path: &str) -> Resp {
        let c = format!("ciq_token={TOKEN}");
        self.req("GET", path, &[("Cookie", &c)], "")
    }

    pub fn get_json(&self, path: &str) -> serde_json::Value {
        let r = self.get(path);
        assert_eq!(r.status, 200, "GET {path}: {}", r.body);
        r.json()
    }
}

fn dechunk(body: &str) -> String {
    let mut out = String::new();
    let mut rest = body;
    while let Some((size, after)) = rest.split_once("\r\n") {
        let n = usize::from_str_radix(size.trim(), 16).unwrap_or(0);
        if n == 0 || after.len() < n {
            break;
        }
        out.push_str(&after[..n]);
        rest = after[n..].trim_start_matches("\r\n");
    }
    out
}

/// A task dead with a reason: `noop fail=fail` run by a worker until it is dead.
pub fn dead_task(ciq: &Ciq, redis: &Redis) -> String {
    let id = enqueue(
        ciq,
        &["noop", "--arg", "fail=fail", "--arg", "build=linux-7"],
    );
    let _w = ciq.spawn_worker("w-dead", &["--queues", "default"]);
    assert!(
        wait_until(Duration::from_secs(20), || redis
            .int(&["ZCARD", &keys::q("default").dead])
            == 1),
        "the task did not die"
    );
    id
}

/// The `event` of each of a task's `events`, in order.
pub fn event_names(task: &serde_json::Value) -> Vec<&str> {
    task["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["event"].as_str().unwrap())
        .collect()
}
