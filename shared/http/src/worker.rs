//! The outbox worker of a long-running process (HTTP server hosting): delivers events as
//! soon as a use case pokes it, and sweeps every half minute for any left behind (a poke
//! lost to a crash, a consumer that failed). On Lambda the DynamoDB Streams function does
//! this instead.

use std::time::Duration;

use app::{App, outbox};

const SWEEP_EVERY: Duration = Duration::from_secs(30);
const BATCH: usize = 100;

/// Starts the worker on the current runtime; it runs until the process ends.
pub fn spawn(app: App) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        loop {
            match outbox::drain(&app, BATCH).await {
                Ok(r) if r.delivered + r.failed > 0 => {
                    tracing::debug!(delivered = r.delivered, failed = r.failed, "outbox sweep");
                }
                Ok(_) => {}
                Err(e) => tracing::warn!(error = %e, "outbox sweep failed; will retry"),
            }
            let _ = tokio::time::timeout(SWEEP_EVERY, app.outbox_poked()).await;
        }
    })
}
