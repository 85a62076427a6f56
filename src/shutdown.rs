//! The stop signal every long-running part listens to: a watch channel of `Shutdown`
//! levels. `on_signals` feeds it from SIGTERM/SIGINT; tests and `ciq up` make their own
//! channel and send the levels themselves.

use tokio::sync::watch;

/// Shutdown levels: a first signal asks for a graceful stop, a second for an immediate one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Shutdown {
    Run,
    Graceful,
    Now,
}

/// Resolves once a stop was asked for (or nobody can ask any more).
pub fn stopped(shutdown: &watch::Receiver<Shutdown>) -> impl std::future::Future<Output = ()> {
    let mut rx = shutdown.clone();
    async move {
        let _ = rx.wait_for(|s| *s != Shutdown::Run).await;
    }
}

/// A watch channel fed by SIGTERM/SIGINT: first Graceful, then Now.
pub fn on_signals() -> watch::Receiver<Shutdown> {
    let (tx, rx) = watch::channel(Shutdown::Run);
    tokio::spawn(async move {
        use tokio::signal::unix::{signal, SignalKind};
        let (Ok(mut term), Ok(mut int)) = (
            signal(SignalKind::terminate()),
            signal(SignalKind::interrupt()),
        ) else {
            return;
        };
        for level in [Shutdown::Graceful, Shutdown::Now] {
            tokio::select! {
                _ = term.recv() => {},
                _ = int.recv() => {},
            }
            tracing::info!(stop = ?level, "stop signal received");
            let _ = tx.send(level);
        }
    });
    rx
}
