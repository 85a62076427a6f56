//! Redis Cluster over TLS (`rediss+cluster://`) with a private CA: routing, work and the
//! per-node status probes all go over TLS.

use super::cluster_servers::{ClusterSet, QUEUES};
use super::servers::wait;
use super::{ciq_for, runs, spawn_worker};
use std::time::Duration;

#[test]
fn a_tls_cluster_with_a_private_ca_works() {
    let certs = tempfile::tempdir().unwrap();
    crate::tls::make_certs(certs.path());
    let set = ClusterSet::start_tls(certs.path());
    let ca = certs.path().join("ca.pem");
    assert!(set.url().starts_with("rediss+cluster://"));
    let ciq = ciq_for(
        &set.url(),
        &format!(
            "broker_ca_file = \"{}\"\n[queues]\ntest_execution = 6\ndefault = 3\nmaintenance = 1\n",
            ca.display()
        ),
    );
    let mut ids = vec![];
    for q in QUEUES {
        ids.push(
            ciq.ok(&["enqueue", "noop", "--queue", q])
                .trim()
                .to_string(),
        );
    }
    let mut w = spawn_worker(&ciq, "w0");
    assert!(
        wait(Duration::from_secs(20), || runs(&ciq, &["w0"]).len() == 3),
        "the three tasks ran over TLS\n{}",
        ciq.log("w0")
    );
    let r = runs(&ciq, &["w0"]);
    assert!(ids.iter().all(|id| r.get(id) == Some(&1)), "{r:?}");
    let o = ciq.run(&["status", "--json"]);
    let s: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(o.status.code(), Some(0), "{s}");
    let nodes = s["broker"]["nodes"].as_array().unwrap();
    assert_eq!(nodes.len(), 3, "{s}");
    assert!(
        nodes.iter().all(|n| n["up"] == true),
        "probed over TLS: {s}"
    );
    w.stop(Duration::from_secs(10));
    // Without the CA the nodes' certificates are not trusted: a broker error, exit 3.
    let plain = ciq_for(&set.url(), "");
    let o = plain.run(&["depth"]);
    assert_eq!(
        o.status.code(),
        Some(3),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
}
