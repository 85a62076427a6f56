//! A `rediss://` broker with a private CA (`CIQ_BROKER_CA_FILE`): enqueue and work over TLS.

use crate::harness::*;
use std::process::{Command, Stdio};
use std::time::Duration;

fn openssl(dir: &std::path::Path, args: &[&str]) {
    let st = Command::new("openssl")
        .current_dir(dir)
        .args(args)
        .stderr(Stdio::null())
        .status()
        .expect("openssl is installed");
    assert!(st.success(), "openssl {args:?}");
}

/// A private CA (`ca.pem`) and a server certificate for 127.0.0.1 it signed (`srv.pem`,
/// `srv.key`), written into `d`.
pub(crate) fn make_certs(d: &std::path::Path) {
    openssl(
        d,
        &[
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-keyout",
            "ca.key",
            "-out",
            "ca.pem",
            "-days",
            "2",
            "-subj",
            "/CN=ciq-test-ca",
        ],
    );
    openssl(
        d,
        &[
            "req",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-keyout",
            "srv.key",
            "-out",
            "srv.csr",
            "-subj",
            "/CN=127.0.0.1",
        ],
    );
    std::fs::write(
        d.join("ext.cnf"),
        "subjectAltName=IP:127.0.0.1\nbasicConstraints=CA:FALSE\n",
    )
    .unwrap();
    openssl(
        d,
        &[
            "x509",
            "-req",
            "-in",
            "srv.csr",
            "-CA",
            "ca.pem",
            "-CAkey",
            "ca.key",
            "-CAcreateserial",
            "-out",
            "srv.pem",
            "-days",
            "2",
            "-extfile",
            "ext.cnf",
        ],
    );
}

#[test]
fn tls_broker_with_private_ca() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    make_certs(d);
    let port = free_port();
    let (port_s, dir_s) = (port.to_string(), d.display().to_string());
    let (cert, key) = (format!("{dir_s}/srv.pem"), format!("{dir_s}/srv.key"));
    #[rustfmt::skip]
    let _server = Proc(redis_server([
        "--port", "0", "--tls-port", &port_s, "--bind", "127.0.0.1", "--dir", &dir_s,
        "--tls-cert-file", &cert, "--tls-key-file", &key, "--tls-auth-clients", "no",
        "--save", "", "--appendonly", "no",
    ]));
    let redis = Redis::start(); // only for the harness's Ciq; the broker below is the TLS one
    let mut ciq = Ciq::new(&redis);
    ciq.broker = format!("rediss://127.0.0.1:{port}/0");
    let ca = d.join("ca.pem").display().to_string();
    let run = |args: &[&str]| {
        ciq.cmd(args)
            .env("CIQ_BROKER_CA_FILE", &ca)
            .output()
            .unwrap()
    };
    assert!(wait_until(Duration::from_secs(5), || run(&["depth"])
        .status
        .success()));
    // Without the CA the server's certificate is not trusted: a clear broker error.
    let o = ciq.run(&["depth"]);
    assert_eq!(
        o.status.code(),
        Some(3),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let o = run(&["enqueue", "noop", "--wait", "--timeout", "500ms"]);
    assert_eq!(o.status.code(), Some(5), "no worker yet: times out");
    let mut w = ciq
        .cmd(&["work", "--name", "tls"])
        .env("CIQ_BROKER_CA_FILE", &ca)
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let o = run(&["enqueue", "noop", "--wait", "--timeout", "10s"]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    sigkill(&mut w);
}
