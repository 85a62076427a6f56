//! The 401 gate, the first-visit cookie, bearer tokens, the refused address.

use super::http::*;
use crate::harness::*;

#[test]
fn web_answers_401_to_every_page_and_api_without_a_valid_token() {
    let redis = Redis::start();
    let ciq = Ciq::new(&redis);
    let web = start(&ciq, &[]);
    let paths = [
        "/",
        "/queues/default",
        "/tasks/01ABC",
        "/workers",
        "/beat",
        "/actions/confirm?action=pause&queue=default",
        "/api/status",
        "/api/queues",
        "/api/tasks?queue=default",
        "/api/tasks/01ABC",
        "/api/workers",
        "/api/beat",
    ];
    for p in paths {
        assert_eq!(
            web.req("GET", p, &[], "").status,
            401,
            "{p} without a token"
        );
        assert_eq!(
            web.req(
                "GET",
                p,
                &[("Authorization", "Bearer wrong-token-0123456789")],
                ""
            )
            .status,
            401,
            "{p} with a wrong bearer"
        );
        assert_eq!(
            web.req(
                "GET",
                p,
                &[("Cookie", "ciq_token=wrong-token-0123456789")],
                ""
            )
            .status,
            401,
            "{p} with a wrong cookie"
        );
    }
    assert_eq!(
        web.req("GET", "/?token=wrong-token-0123456789", &[], "")
            .status,
        401
    );
    assert_eq!(
        web.req("POST", "/actions", &[], "action=pause&queue=default")
            .status,
        401
    );
    assert_eq!(web.req("POST", "/api/actions", &[], "{}").status, 401);
    // With the token the same paths answer.
    assert_eq!(web.get("/api/queues").status, 200);
    assert_eq!(web.page("/").status, 200);
}

#[test]
fn first_visit_with_the_token_sets_a_strict_httponly_cookie_and_redirects_to_the_clean_url() {
    let redis = Redis::start();
    let ciq = Ciq::new(&redis);
    let web = start(&ciq, &[]);
    let r = web.req(
        "GET",
        &format!("/queues/default?token={TOKEN}&state=dead"),
        &[],
        "",
    );
    assert_eq!(r.status, 303);
    assert_eq!(r.header("location"), Some("/queues/default?state=dead"));
    let cookie = r.header("set-cookie").expect("a cookie");
    assert!(
        cookie.starts_with(&format!("ciq_token={TOKEN}")),
        "{cookie}"
    );
    assert!(cookie.contains("HttpOnly"), "{cookie}");
    assert!(cookie.contains("SameSite=Strict"), "{cookie}");
    let cookie = cookie.split(';').next().unwrap();
    let page = web.req(
        "GET",
        "/queues/default?state=dead",
        &[("Cookie", cookie)],
        "",
    );
    assert_eq!(page.status, 200);
    assert!(page.body.contains("Queue default"), "{}", page.body);
}

#[test]
fn web_prints_one_url_with_a_random_token_that_logs_in() {
    let redis = Redis::start();
    let ciq = Ciq::new(&redis);
    let web = start(&ciq, &["--random-token"]);
    let token = web
        .line
        .split("?token=")
        .nth(1)
        .and_then(|t| t.split_whitespace().next())
        .expect("token in the URL")
        .to_string();
    assert!(token.len() >= 32, "{token}");
    assert_ne!(token, TOKEN);
    let ok = web.req(
        "GET",
        "/api/queues",
        &[("Authorization", &format!("Bearer {token}"))],
        "",
    );
    assert_eq!(ok.status, 200);
    // The test token is not the random one.
    assert_eq!(web.get("/api/queues").status, 401);
    // Nothing else it printed carries the token (stderr; stdout was the one line).
    let mut web = web;
    let _ = web._proc.0.kill();
    let _ = web._proc.0.wait();
    let mut rest = String::new();
    use std::io::Read;
    let _ = web._proc.0.stderr.take().unwrap().read_to_string(&mut rest);
    let _ = web
        ._proc
        .0
        .stdout
        .take()
        .map(|mut o| o.read_to_string(&mut rest));
    assert!(!rest.contains(&token), "{rest}");
}

#[test]
fn web_refuses_a_non_loopback_address_without_a_token_file() {
    let redis = Redis::start();
    let ciq = Ciq::new(&redis);
    let o = ciq.run(&["web", "--listen", "0.0.0.0:0"]);
    assert_eq!(o.status.code(), Some(2));
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(
        err.contains("refusing to listen on 0.0.0.0:0 without --token-file"),
        "{err}"
    );
    assert!(o.stdout.is_empty());
    // A bad token file is refused the same way.
    std::fs::write(ciq.dir().join("short"), "abc").unwrap();
    let o = ciq.run(&["web", "--listen", "0.0.0.0:0", "--token-file", "short"]);
    assert_eq!(o.status.code(), Some(2));
}

#[test]
fn web_serves_https_with_a_certificate_and_key() {
    let redis = Redis::start();
    let ciq = Ciq::new(&redis);
    crate::tls::make_certs(ciq.dir());
    let web = start(&ciq, &["--tls-cert", "srv.pem", "--tls-key", "srv.key"]);
    assert!(web.line.contains("https://127.0.0.1:"), "{}", web.line);
    let ca = std::fs::read(ciq.dir().join("ca.pem")).unwrap();
    let url = |p: &str| format!("https://{}{p}", web.addr);
    let (ok, anon, plain) = block_on(async {
        let client = reqwest::Client::builder()
            .add_root_certificate(reqwest::Certificate::from_pem(&ca).unwrap())
            .build()
            .unwrap();
        let ok = client
            .get(url("/api/queues"))
            .bearer_auth(TOKEN)
            .send()
            .await
            .expect("an HTTPS request");
        let anon = client
            .get(url("/api/queues"))
            .send()
            .await
            .unwrap()
            .status();
        // Over HTTPS the login cookie is also Secure.
        let first = reqwest::Client::builder()
            .add_root_certificate(reqwest::Certificate::from_pem(&ca).unwrap())
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap()
            .get(url(&format!("/?token={TOKEN}")))
            .send()
            .await
            .unwrap();
        let cookie = first.headers()["set-cookie"].to_str().unwrap().to_string();
        assert!(
            cookie.contains("; Secure") && cookie.contains("HttpOnly"),
            "{cookie}"
        );
        // Plain HTTP on the TLS port gets no answer.
        let plain = reqwest::get(format!("http://{}/api/queues", web.addr)).await;
        (
            (ok.status().as_u16(), ok.text().await.unwrap()),
            anon.as_u16(),
            plain.is_err(),
        )
    });
    assert_eq!(ok.0, 200);
    assert!(ok.1.contains("\"queue\":\"default\""), "{}", ok.1);
    assert_eq!(anon, 401);
    assert!(plain);
    // A bad key file is refused at start (exit 2).
    std::fs::write(ciq.dir().join("bad.key"), "not a key").unwrap();
    let o = ciq.run(&[
        "web",
        "--listen",
        "127.0.0.1:0",
        "--tls-cert",
        "srv.pem",
        "--tls-key",
        "bad.key",
    ]);
    assert_eq!(o.status.code(), Some(2));
}
