//! `http` runner: POST the task's args as JSON.
//!
//! 2xx = done; 429 and 5xx = retry, honouring `Retry-After` (seconds or an HTTP date);
//! other statuses = permanent. A cloud error report in the body (see `cloud`) overrides
//! that class when its code is known. Network errors and timeouts are retryable. The
//! optional bearer token is read from the environment variable named by `token_env` at
//! call time: it is never in the message, the config dump or a log line.
//! Headers `X-Ciq-Task-Id` / `X-Ciq-Attempt` let the receiver deduplicate.

use super::cloud::{self, Class};
use super::tail::Tail;
use super::{RunOutcome, RunRequest, RunResult};
use crate::secrets::redact_url;
use std::collections::HashMap;
use std::sync::{Mutex, OnceLock};
use std::time::Duration;

pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(60);
pub const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// A server cannot park a task for longer than this with `Retry-After`.
const MAX_RETRY_AFTER: Duration = Duration::from_secs(3600);

/// One client (connection pool, TLS roots) per connect timeout, shared by all runs.
fn client(connect: Duration) -> Result<reqwest::Client, String> {
    static CLIENTS: OnceLock<Mutex<HashMap<Duration, reqwest::Client>>> = OnceLock::new();
    let map = CLIENTS.get_or_init(Default::default);
    let mut map = map
        .lock()
        .map_err(|_| "http client cache poisoned".to_string())?;
    if let Some(c) = map.get(&connect) {
        return Ok(c.clone());
    }
    let c = reqwest::Client::builder()
        .connect_timeout(connect)
        .redirect(reqwest::redirect::Policy::none())
        .user_agent(concat!("ciq/", env!("CARGO_PKG_VERSION")))
        .build()
        .map_err(|e| format!("cannot build the HTTP client: {e}"))?;
    map.insert(connect, c.clone());
    Ok(c)
}

pub async fn run(
    url: &str,
    timeout: Option<Duration>,
    connect_timeout: Option<Duration>,
    token_env: Option<&str>,
    req: &RunRequest<'_>,
) -> RunResult {
    let shown = redact_url(url);
    let client = match client(connect_timeout.unwrap_or(DEFAULT_CONNECT_TIMEOUT)) {
        Ok(c) => c,
        Err(e) => return RunResult::permanent(e),
    };
    let mut rb = client
        .post(url)
        .timeout(timeout.unwrap_or(DEFAULT_TIMEOUT))
        .header("X-Ciq-Task-Id", req.task_id)
        .header("X-Ciq-Attempt", req.attempt.to_string())
        .json(&serde_json::Value::Object(req.args.clone()));
    if let Some(var) = token_env {
        match std::env::var(var) {
            Ok(t) if !t.is_empty() => rb = rb.bearer_auth(t),
            _ => {
                return RunResult::permanent(format!(
                    "http runner {shown}: token_env {var} is not set in the worker's environment"
                ))
            }
        }
    }
    let deadline = match (req.soft_deadline, req.hard_deadline) {
        (Some(s), Some(h)) => Some((s.min(h), s > h)),
        (Some(s), None) => Some((s, false)),
        (None, Some(h)) => Some((h, true)),
        (None, None) => None,
    };
    let call = async {
        let resp = rb.send().await?;
        let status = resp.status();
        let retry_after = retry_after(resp.headers());
        let body = resp.bytes().await.unwrap_or_default();
        Ok::<_, reqwest::Error>((status, retry_after, body))
    };
    let res = match deadline {
        Some((at, hard)) => tokio::select! {
            r = call => r,
            _ = tokio::time::sleep_until(at.into()) => {
                return RunResult::plain(RunOutcome::TimedOut { hard, output: String::new() })
            }
        },
        None => call.await,
    };
    let (status, retry_after, body) = match res {
        Ok(v) => v,
        Err(e) => {
            // reqwest errors name the URL; print the redacted one instead.
            let e = e.without_url();
            return RunResult::plain(RunOutcome::Retryable {
                error: format!("POST {shown}: {e}"),
                retry_after: None,
                output: String::new(),
            });
        }
    };
    let mut tail = Tail::default();
    tail.push(&body);
    let output = tail.text();
    classify(status.as_u16(), retry_after, output, &shown)
}

fn classify(status: u16, retry_after: Option<Duration>, output: String, shown: &str) -> RunResult {
    if (200..300).contains(&status) {
        return RunResult::plain(RunOutcome::Ok { output });
    }
    let by_status = if status == 429 || status >= 500 {
        Class::Retryable
    } else {
        Class::Permanent
    };
    let report = cloud::find(&output);
    RunResult::failed(
        format!("POST {shown}: HTTP {status}"),
        report,
        by_status,
        retry_after,
        output,
    )
}

/// `Retry-After: 120` or `Retry-After: Wed, 21 Oct 2015 07:28:00 GMT`, capped.
fn retry_after(h: &reqwest::header::HeaderMap) -> Option<Duration> {
    let v = h.get(reqwest::header::RETRY_AFTER)?.to_str().ok()?.trim();
    let d = match v.parse::<u64>() {
        Ok(s) => Duration::from_secs(s),
        Err(_) => {
            let at = chrono::DateTime::parse_from_rfc2822(v).ok()?;
            let secs = (at.with_timezone(&chrono::Utc) - chrono::Utc::now()).num_milliseconds();
            Duration::from_millis(u64::try_from(secs).unwrap_or(0))
        }
    };
    Some(d.min(MAX_RETRY_AFTER))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Instant;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    fn later(ms: u64) -> Option<Instant> {
        Some(Instant::now() + Duration::from_millis(ms))
    }
    use tokio::net::TcpListener;

    /// A one-connection-per-response HTTP server; returns its URL and the requests it saw.
    async fn serve(responses: Vec<&'static str>) -> (String, tokio::task::JoinHandle<Vec<String>>) {
        let l = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let url = format!("http://{}/hook", l.local_addr().expect("addr"));
        let h = tokio::spawn(async move {
            let mut seen = vec![];
            for resp in responses {
                let Ok((mut s, _)) = l.accept().await else {
                    break;
                };
                let mut buf = vec![0u8; 16384];
                let mut got = 0;
                // Read headers and the declared body.
                while let Ok(n) = s.read(&mut buf[got..]).await {
                    if n == 0 {
                        break;
                    }
                    got += n;
                    let text = String::from_utf8_lossy(&buf[..got]).to_string();
                    if let Some(end) = text.find("\r\n\r\n") {
                        let len = text
                            .lines()
                            .find_map(|l| {
                                l.to_ascii_lowercase()
                                    .strip_prefix("content-length:")
                                    .map(|v| v.trim().parse::<usize>().unwrap_or(0))
                            })
                            .unwrap_or(0);
                        if got >= end + 4 + len {
                            break;
                        }
                    }
                }
                seen.push(String::from_utf8_lossy(&buf[..got]).to_string());
                if resp == "HANG" {
                    tokio::time::sleep(Duration::from_secs(5)).await;
                    continue;
                }
                let _ = s.write_all(resp.as_bytes()).await;
                let _ = s.shutdown().await;
            }
            seen
        });
        (url, h)
    }

    fn args() -> serde_json::Map<String, serde_json::Value> {
        let mut m = serde_json::Map::new();
        m.insert("test_id".into(), 7.into());
        m
    }

    fn req(args: &serde_json::Map<String, serde_json::Value>) -> RunRequest<'_> {
        RunRequest {
            task: "notify",
            task_id: "01T",
            attempt: 1,
            args,
            soft_deadline: None,
            hard_deadline: None,
            cwd: None,
            fence: None,
        }
    }

    #[tokio::test]
    async fn posts_json_with_bearer_token_and_maps_statuses() {
        let (url, h) = serve(vec![
            "HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok",
            "HTTP/1.1 429 Too Many\r\nretry-after: 7\r\ncontent-length: 0\r\n\r\n",
            "HTTP/1.1 503 Unavailable\r\ncontent-length: 0\r\n\r\n",
            "HTTP/1.1 404 Not Found\r\ncontent-length: 4\r\n\r\nnope",
        ])
        .await;
        std::env::set_var("CIQ_TEST_HTTP_TOKEN", "s3cret-token");
        let a = args();
        let tok = Some("CIQ_TEST_HTTP_TOKEN");
        let r = run(&url, None, None, tok, &req(&a)).await;
        assert_eq!(
            r.outcome,
            RunOutcome::Ok {
                output: "ok".into()
            }
        );
        let r = run(&url, None, None, tok, &req(&a)).await;
        assert!(
            matches!(r.outcome, RunOutcome::Retryable { retry_after: Some(d), .. } if d == Duration::from_secs(7)),
            "{:?}",
            r.outcome
        );
        let r = run(&url, None, None, tok, &req(&a)).await;
        assert!(matches!(
            r.outcome,
            RunOutcome::Retryable {
                retry_after: None,
                ..
            }
        ));
        let r = run(&url, None, None, tok, &req(&a)).await;
        match &r.outcome {
            RunOutcome::Permanent { error, output } => {
                assert_eq!(output, "nope");
                assert!(
                    error.contains("HTTP 404") && !error.contains("s3cret"),
                    "{error}"
                );
            }
            o => panic!("expected permanent: {o:?}"),
        }
        let seen = h.await.expect("server");
        assert!(seen[0].starts_with("POST /hook "), "{}", seen[0]);
        let lower = seen[0].to_ascii_lowercase();
        assert!(lower.contains("authorization: bearer s3cret-token"));
        assert!(lower.contains("x-ciq-task-id: 01t"));
        assert!(seen[0].ends_with(r#"{"test_id":7}"#), "{}", seen[0]);
    }

    #[tokio::test]
    async fn cloud_code_in_body_and_timeouts() {
        let (url, _h) = serve(vec![
            "HTTP/1.1 400 Bad\r\ncontent-length: 62\r\n\r\n{\"error\":{\"code\":\"QUOTA_EXCEEDED\",\"message\":\"proj p, zone z\"}}",
            "HANG",
        ])
        .await;
        let a = args();
        let r = run(&url, None, None, None, &req(&a)).await;
        assert!(
            matches!(r.outcome, RunOutcome::Retryable { .. }),
            "{:?}",
            r.outcome
        );
        assert_eq!(r.cloud.map(|c| c.code).as_deref(), Some("QUOTA_EXCEEDED"));
        let t = Instant::now();
        let r = run(&url, Some(Duration::from_millis(300)), None, None, &req(&a)).await;
        assert!(
            matches!(r.outcome, RunOutcome::Retryable { .. }),
            "{:?}",
            r.outcome
        );
        assert!(t.elapsed() < Duration::from_secs(3));
    }

    #[tokio::test]
    async fn soft_deadline_and_missing_token_and_refused_connection() {
        let (url, _h) = serve(vec!["HANG"]).await;
        let a = args();
        let mut r = req(&a);
        r.soft_deadline = later(200);
        let out = run(&url, None, None, None, &r).await;
        assert!(matches!(
            out.outcome,
            RunOutcome::TimedOut { hard: false, .. }
        ));
        let out = run(&url, None, None, Some("CIQ_TEST_UNSET_TOKEN_VAR"), &req(&a)).await;
        assert!(matches!(out.outcome, RunOutcome::Permanent { .. }));
        let port = {
            let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
            l.local_addr().expect("addr").port()
        };
        let out = run(
            &format!("http://127.0.0.1:{port}/x"),
            None,
            None,
            None,
            &req(&a),
        )
        .await;
        assert!(
            matches!(out.outcome, RunOutcome::Retryable { .. }),
            "{:?}",
            out.outcome
        );
    }

    #[test]
    fn retry_after_reads_dates_too() {
        let mut h = reqwest::header::HeaderMap::new();
        let future = chrono::Utc::now() + chrono::Duration::seconds(30);
        h.insert(
            reqwest::header::RETRY_AFTER,
            future
                .to_rfc2822()
                .replace("+0000", "GMT")
                .parse()
                .expect("header"),
        );
        let d = retry_after(&h).expect("parsed");
        assert!(
            d > Duration::from_secs(25) && d <= Duration::from_secs(30),
            "{d:?}"
        );
    }
}
