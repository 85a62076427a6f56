//! A TCP proxy on loopback that can hold bytes back: `hold()` cuts every connection
//! through it the way a network partition does (the connections stay open, nothing
//! arrives either way, no error), `release()` lets traffic flow again.

use std::io::{Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

pub struct HoldingProxy {
    pub port: u16,
    held: Arc<AtomicBool>,
    stop: Arc<AtomicBool>,
}

impl HoldingProxy {
    /// Listens on a free loopback port and forwards to `127.0.0.1:upstream`.
    pub fn start(upstream: u16) -> HoldingProxy {
        let l = TcpListener::bind("127.0.0.1:0").expect("bind proxy");
        let port = l.local_addr().unwrap().port();
        let held = Arc::new(AtomicBool::new(false));
        let stop = Arc::new(AtomicBool::new(false));
        let (h, s) = (held.clone(), stop.clone());
        l.set_nonblocking(true).unwrap();
        std::thread::spawn(move || {
            while !s.load(Ordering::Relaxed) {
                match l.accept() {
                    Ok((client, _)) => {
                        client.set_nonblocking(false).unwrap();
                        let Ok(server) = TcpStream::connect(("127.0.0.1", upstream)) else {
                            continue;
                        };
                        for (from, to) in [
                            (client.try_clone().unwrap(), server.try_clone().unwrap()),
                            (server, client),
                        ] {
                            let (h, s) = (h.clone(), s.clone());
                            std::thread::spawn(move || pump(from, to, h, s));
                        }
                    }
                    Err(_) => std::thread::sleep(Duration::from_millis(5)),
                }
            }
        });
        HoldingProxy { port, held, stop }
    }

    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}/0", self.port)
    }

    /// Stops forwarding: bytes sent either way are held, connections stay open.
    pub fn hold(&self) {
        self.held.store(true, Ordering::SeqCst);
    }

    pub fn release(&self) {
        self.held.store(false, Ordering::SeqCst);
    }
}

impl Drop for HoldingProxy {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        self.held.store(false, Ordering::SeqCst);
    }
}

/// Copies `from` to `to`; while held, reads nothing (the kernel buffers fill, the peer
/// waits: a partition, not a reset).
fn pump(mut from: TcpStream, mut to: TcpStream, held: Arc<AtomicBool>, stop: Arc<AtomicBool>) {
    let mut buf = [0u8; 16384];
    from.set_read_timeout(Some(Duration::from_millis(20))).ok();
    loop {
        if stop.load(Ordering::Relaxed) {
            break;
        }
        if held.load(Ordering::SeqCst) {
            std::thread::sleep(Duration::from_millis(5));
            continue;
        }
        match from.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => {
                // Bytes read just as the hold began are held back too.
                while held.load(Ordering::SeqCst) && !stop.load(Ordering::Relaxed) {
                    std::thread::sleep(Duration::from_millis(5));
                }
                if to.write_all(&buf[..n]).is_err() {
                    break;
                }
            }
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) => {}
            Err(_) => break,
        }
    }
    let _ = to.shutdown(Shutdown::Both);
}
