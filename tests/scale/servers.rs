//! A primary, a replica and three sentinels on free loopback ports, killed on drop, with
//! fast failure detection (down-after 1 s) so failover tests stay short.

use crate::harness::{free_port, redis_server};
use std::process::{Child, Command};
use std::time::Duration;

/// One redis-server process (data node or sentinel).
pub struct Node {
    pub port: u16,
    child: Option<Child>,
    args: Vec<String>,
    /// Extra `redis-cli` arguments (`--tls --cacert …` for a TLS-only node).
    cli_args: Vec<String>,
}

impl Node {
    pub fn start(port: u16, args: Vec<String>) -> Node {
        Node::start_with_cli(port, args, vec![])
    }

    pub fn start_with_cli(port: u16, args: Vec<String>, cli_args: Vec<String>) -> Node {
        let mut n = Node {
            port,
            child: None,
            args,
            cli_args,
        };
        n.spawn();
        n
    }

    fn spawn(&mut self) {
        let child = redis_server(&self.args);
        self.child = Some(child);
        assert!(
            wait(Duration::from_secs(10), || self.cli(&["PING"]).trim()
                == "PONG"),
            "redis-server on {} did not answer",
            self.port
        );
    }

    pub fn cli(&self, args: &[&str]) -> String {
        let out = Command::new("redis-cli")
            .args(["-h", "127.0.0.1", "-p", &self.port.to_string()])
            .args(&self.cli_args)
            .args(args)
            .output()
            .expect("redis-cli runs");
        String::from_utf8_lossy(&out.stdout).to_string()
    }

    /// Starts the node again with its arguments (a killed node coming back).
    pub fn restart(&mut self) {
        self.kill9();
        self.spawn();
    }

    pub fn pid(&self) -> Option<i32> {
        self.child.as_ref().map(|c| c.id() as i32)
    }

    pub fn kill9(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    pub fn role(&self) -> String {
        self.cli(&["ROLE"]).lines().next().unwrap_or("").to_string()
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        self.kill9();
    }
}

/// The harness's poll (`wait_until`), under the name the scale tests use.
pub use crate::harness::wait_until as wait;

#[allow(dead_code)] // `dir` is held so the nodes' files outlive them
pub struct SentinelSet {
    pub dir: tempfile::TempDir,
    pub data: Vec<Node>,
    pub sentinels: Vec<Node>,
}

impl SentinelSet {
    /// Primary + one replica (AOF off: the replica is the copy) + 3 sentinels, quorum 2.
    pub fn start() -> SentinelSet {
        SentinelSet::start_with(false, 1)
    }

    /// Like `start`, with AOF (`appendfsync always`) on the data nodes (a killed master
    /// that comes back keeps what it had, whether or not it was failed over meanwhile)
    /// and `replicas` replicas.
    pub fn start_aof(replicas: usize) -> SentinelSet {
        SentinelSet::start_with(true, replicas)
    }

    fn start_with(aof: bool, replicas: usize) -> SentinelSet {
        let dir = tempfile::tempdir().expect("tempdir");
        let data_node = |port: u16, extra: &[String]| {
            let d = dir.path().join(format!("d{port}"));
            std::fs::create_dir_all(&d).unwrap();
            let mut a: Vec<String> = [
                "--bind",
                "127.0.0.1",
                "--port",
                &port.to_string(),
                "--save",
                "",
                "--appendonly",
                if aof { "yes" } else { "no" },
                "--appendfsync",
                "always",
                "--daemonize",
                "no",
                "--repl-diskless-sync",
                "yes",
                "--repl-diskless-sync-delay",
                "0",
            ]
            .iter()
            .map(|s| s.to_string())
            .collect();
            a.push("--dir".into());
            a.push(d.display().to_string());
            a.extend(extra.iter().cloned());
            Node::start(port, a)
        };
        let p = free_port();
        let primary = data_node(p, &[]);
        let mut data = vec![primary];
        for _ in 0..replicas {
            let replica = data_node(
                free_port(),
                &["--replicaof".into(), "127.0.0.1".into(), p.to_string()],
            );
            assert!(
                wait(Duration::from_secs(15), || replica
                    .cli(&["INFO", "replication"])
                    .contains("master_link_status:up")),
                "replica did not sync"
            );
            data.push(replica);
        }
        let mut sentinels = vec![];
        for _ in 0..3 {
            let port = free_port();
            let conf = dir.path().join(format!("sentinel-{port}.conf"));
            std::fs::write(
                &conf,
                format!(
                    "port {port}\nbind 127.0.0.1\ndaemonize no\ndir {d}\n\
                     sentinel monitor mymaster 127.0.0.1 {p} 2\n\
                     sentinel down-after-milliseconds mymaster 1000\n\
                     sentinel failover-timeout mymaster 4000\n\
                     sentinel parallel-syncs mymaster 1\n",
                    d = dir.path().display()
                ),
            )
            .unwrap();
            sentinels.push(Node::start(
                port,
                vec![conf.display().to_string(), "--sentinel".into()],
            ));
        }
        let set = SentinelSet {
            dir,
            data,
            sentinels,
        };
        // Every sentinel knows the replica and the other sentinels before a failover.
        assert!(
            wait(Duration::from_secs(20), || set.sentinels.iter().all(|s| {
                let m = s.cli(&["SENTINEL", "MASTER", "mymaster"]);
                let field = |k: &str| {
                    let mut it = m.lines();
                    while let Some(l) = it.next() {
                        if l == k {
                            return it.next().unwrap_or("0").parse::<u32>().unwrap_or(0);
                        }
                    }
                    0
                };
                field("num-slaves") >= replicas as u32 && field("num-other-sentinels") >= 2
            })),
            "sentinels did not discover the replica and each other"
        );
        set
    }

    pub fn url(&self) -> String {
        let hosts = loopback_hosts(self.sentinels.iter().map(|s| s.port));
        format!("redis+sentinel://{hosts}/mymaster/0")
    }

    /// Index (in `data`) of the node the sentinels call master now.
    pub fn master_port(&self) -> u16 {
        let out = self.sentinels[0].cli(&["SENTINEL", "get-master-addr-by-name", "mymaster"]);
        out.lines()
            .nth(1)
            .and_then(|p| p.trim().parse().ok())
            .unwrap_or(0)
    }

    pub fn node(&self, port: u16) -> &Node {
        self.data
            .iter()
            .find(|n| n.port == port)
            .expect("a data node")
    }
}

/// `127.0.0.1:P1,127.0.0.1:P2,…` for a URL naming several nodes.
pub fn loopback_hosts(ports: impl Iterator<Item = u16>) -> String {
    ports
        .map(|p| format!("127.0.0.1:{p}"))
        .collect::<Vec<_>>()
        .join(",")
}
