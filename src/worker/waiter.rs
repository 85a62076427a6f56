//! Idle pickup without polling: while the worker is idle, one dedicated connection per
//! queue blocks in `BLMOVE q q RIGHT RIGHT` (a rotation that leaves the list unchanged)
//! and wakes the fetch loop the moment a task arrives. The block is long (`BLOCK`), so an
//! idle worker costs Redis about one command per queue per `BLOCK`. A failover kills the
//! blocked connection (or moves the broker's generation): it is rebuilt to the new master.

use super::Shared;
use std::sync::Arc;
use std::time::Duration;
use tokio::task::JoinHandle;

/// How long one BLMOVE blocks while idle.
const BLOCK: Duration = Duration::from_secs(30);
/// How often a paused queue's waiter asks the fetch loop to look again (to notice a resume).
const PAUSED_RECHECK: Duration = Duration::from_secs(1);

pub(crate) fn set_idle(shared: &Shared, idle: bool) {
    shared.idle.send_replace(idle);
}

pub(crate) fn spawn_all(shared: Arc<Shared>) -> Vec<JoinHandle<()>> {
    (0..shared.queues.len())
        .map(|i| tokio::spawn(wait_loop(shared.clone(), i)))
        .collect()
}

async fn wait_loop(shared: Arc<Shared>, i: usize) {
    let q = shared.queues[i].clone();
    let mut idle = shared.idle.subscribe();
    let mut conn = None;
    let mut generation = 0;
    loop {
        if idle.wait_for(|v| *v).await.is_err() {
            return;
        }
        if shared.is_paused(&q.name) {
            tokio::time::sleep(PAUSED_RECHECK).await;
            if shared.is_paused(&q.name) && *idle.borrow() {
                shared.wake.notify_one();
            }
            continue;
        }
        if generation != shared.broker.generation() {
            conn = None;
        }
        if conn.is_none() {
            generation = shared.broker.generation();
            match shared.broker.blocking_connection().await {
                Ok(c) => conn = Some(c),
                Err(_) => {
                    // Let the fetch loop poll (and back off) while this cannot block.
                    shared.wake.notify_one();
                    tokio::time::sleep(Duration::from_millis(500)).await;
                    continue;
                }
            }
        }
        let c = conn.as_mut().expect("connected above");
        match shared.broker.wait_pending(c, &q, BLOCK).await {
            Ok(true) => {
                shared
                    .hint
                    .store(i + 1, std::sync::atomic::Ordering::Relaxed);
                shared.wake.notify_one();
                // Let the fetch loop leave idle (and take the task) before blocking again.
                let _ =
                    tokio::time::timeout(Duration::from_millis(200), idle.wait_for(|v| !*v)).await;
            }
            Ok(false) => {}
            Err(_) => {
                conn = None;
                shared.wake.notify_one();
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
        }
    }
}
