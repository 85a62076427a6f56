//! A real three-master Redis Cluster on free loopback ports (`--cluster-enabled yes`),
//! its slots split so that the platform's three queues live on three different masters.

use super::servers::{loopback_hosts, wait, Node};
use crate::harness::{free_port, keys};
use std::time::Duration;

pub const QUEUES: [&str; 3] = ["test_execution", "default", "maintenance"];

#[allow(dead_code)] // `dir` is held so the nodes' files outlive them
pub struct ClusterSet {
    pub dir: tempfile::TempDir,
    pub nodes: Vec<Node>,
    scheme: &'static str,
}

impl ClusterSet {
    pub fn start() -> ClusterSet {
        ClusterSet::start_with(None)
    }

    /// TLS only (`--tls-cluster yes`, no plain port), with this directory's `srv.pem`,
    /// `srv.key` and `ca.pem` (see `crate::tls::make_certs`).
    pub fn start_tls(certs: &std::path::Path) -> ClusterSet {
        ClusterSet::start_with(Some(certs))
    }

    fn start_with(certs: Option<&std::path::Path>) -> ClusterSet {
        let dir = tempfile::tempdir().expect("tempdir");
        let cert = |f: &str| certs.unwrap().join(f).display().to_string();
        let nodes: Vec<Node> = (0..3)
            .map(|_| {
                let port = free_port();
                let d = dir.path().join(format!("n{port}"));
                std::fs::create_dir_all(&d).unwrap();
                let listen: Vec<String> = match certs {
                    None => vec!["--port".into(), port.to_string()],
                    Some(_) => vec![
                        "--port".into(),
                        "0".into(),
                        "--tls-port".into(),
                        port.to_string(),
                        "--tls-cluster".into(),
                        "yes".into(),
                        "--tls-cert-file".into(),
                        cert("srv.pem"),
                        "--tls-key-file".into(),
                        cert("srv.key"),
                        "--tls-ca-cert-file".into(),
                        cert("ca.pem"),
                        "--tls-auth-clients".into(),
                        "no".into(),
                    ],
                };
                let cli: Vec<String> = match certs {
                    None => vec![],
                    Some(_) => vec!["--tls".into(), "--cacert".into(), cert("ca.pem")],
                };
                let mut args: Vec<String> = listen;
                args.extend(
                    [
                        "--bind",
                        "127.0.0.1",
                        "--cluster-enabled",
                        "yes",
                        "--cluster-config-file",
                        &format!("nodes-{port}.conf"),
                        "--cluster-node-timeout",
                        "2000",
                        // The masters that are up keep serving their slots when one is down.
                        "--cluster-require-full-coverage",
                        "no",
                        "--save",
                        "",
                        "--appendonly",
                        "yes",
                        "--daemonize",
                        "no",
                        "--dir",
                        &d.display().to_string(),
                    ]
                    .iter()
                    .map(|s| s.to_string()),
                );
                Node::start_with_cli(port, args, cli)
            })
            .collect();
        // Slot ranges cut at the queues' slots, so each queue gets its own master.
        let mut slots: Vec<u16> = QUEUES.iter().map(|q| slot(&nodes[0], q)).collect();
        slots.sort_unstable();
        let ranges = [
            (0, slots[0]),
            (slots[0] + 1, slots[1]),
            (slots[1] + 1, 16383),
        ];
        for (n, (a, b)) in nodes.iter().zip(ranges) {
            n.cli(&["CLUSTER", "ADDSLOTSRANGE", &a.to_string(), &b.to_string()]);
        }
        for n in &nodes[1..] {
            nodes[0].cli(&["CLUSTER", "MEET", "127.0.0.1", &n.port.to_string()]);
        }
        assert!(
            wait(Duration::from_secs(20), || nodes.iter().all(|n| {
                n.cli(&["CLUSTER", "INFO"]).contains("cluster_state:ok")
                    && n.cli(&["CLUSTER", "NODES"])
                        .lines()
                        .filter(|l| l.contains("master") && !l.contains("handshake"))
                        .count()
                        == 3
            })),
            "the three masters did not form a cluster"
        );
        let scheme = if certs.is_some() { "rediss" } else { "redis" };
        let set = ClusterSet { dir, nodes, scheme };
        let owners: Vec<u16> = QUEUES.iter().map(|q| set.owner(q).port).collect();
        assert!(
            owners[0] != owners[1] && owners[1] != owners[2] && owners[0] != owners[2],
            "the queues are on three masters: {owners:?}"
        );
        set
    }

    pub fn url(&self) -> String {
        let hosts = loopback_hosts(self.nodes.iter().map(|n| n.port));
        format!("{}+cluster://{hosts}", self.scheme)
    }

    /// The master that serves this queue's hash tag now.
    pub fn owner(&self, queue: &str) -> &Node {
        let s = slot(&self.nodes[0], queue);
        self.nodes
            .iter()
            .find(|n| serves(n, s))
            .expect("a master serves the slot")
    }

    /// `redis-cli -c` on any node: follows MOVED to the key's master.
    pub fn cli(&self, args: &[&str]) -> String {
        let mut a = vec!["-c"];
        a.extend_from_slice(args);
        self.nodes[0].cli(&a)
    }

    /// Moves one queue's slot (every key of it) to another master while it is in use:
    /// IMPORTING/MIGRATING, MIGRATE in small batches, then SETSLOT NODE everywhere, the
    /// way `redis-cli --cluster reshard` does. Returns the new owner's port.
    pub fn migrate_queue(&self, queue: &str) -> u16 {
        let s = slot(&self.nodes[0], queue).to_string();
        let from = self.owner(queue);
        let to = self
            .nodes
            .iter()
            .find(|n| n.port != from.port)
            .expect("another master");
        let (from_id, to_id) = (node_id(from), node_id(to));
        to.cli(&["CLUSTER", "SETSLOT", &s, "IMPORTING", &from_id]);
        from.cli(&["CLUSTER", "SETSLOT", &s, "MIGRATING", &to_id]);
        loop {
            let keys: Vec<String> = from
                .cli(&["CLUSTER", "GETKEYSINSLOT", &s, "5"])
                .lines()
                .map(|l| l.trim().to_string())
                .filter(|l| !l.is_empty())
                .collect();
            if keys.is_empty() {
                break;
            }
            let port = to.port.to_string();
            let mut args = vec!["MIGRATE", "127.0.0.1", &port, "", "0", "5000", "KEYS"];
            args.extend(keys.iter().map(String::as_str));
            let out = from.cli(&args);
            assert!(
                out.contains("OK") || out.contains("NOKEY"),
                "MIGRATE: {out}"
            );
            // Let the workers hit the half-moved slot (ASK, TRYAGAIN) for a while.
            std::thread::sleep(Duration::from_millis(30));
        }
        for n in &self.nodes {
            n.cli(&["CLUSTER", "SETSLOT", &s, "NODE", &to_id]);
        }
        to.port
    }
}

/// The hash slot of a queue's keys (`{queue}` hash tag).
pub fn slot(node: &Node, queue: &str) -> u16 {
    node.cli(&["CLUSTER", "KEYSLOT", &keys::q(queue).pending])
        .trim()
        .parse()
        .expect("CLUSTER KEYSLOT")
}

fn node_id(n: &Node) -> String {
    n.cli(&["CLUSTER", "MYID"]).trim().to_string()
}

/// True when `n` itself serves slot `s` (its own line in CLUSTER NODES lists it).
fn serves(n: &Node, s: u16) -> bool {
    n.cli(&["CLUSTER", "NODES"])
        .lines()
        .find(|l| l.contains("myself"))
        .map(|l| {
            l.split_whitespace()
                .skip(8)
                .any(|r| match r.split_once('-') {
                    Some((a, b)) => {
                        a.parse::<u16>().is_ok_and(|a| a <= s)
                            && b.parse::<u16>().is_ok_and(|b| s <= b)
                    }
                    None => r.parse::<u16>() == Ok(s),
                })
        })
        .unwrap_or(false)
}
