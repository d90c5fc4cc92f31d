//! The pause before writing again after another writer won: short, growing, and jittered so
//! that writers who met once do not meet again at the same instant.

use std::time::Duration;

/// Sleeps before attempt `attempt` (1 for the first retry): about 10, 20, 40 … ms, at most
/// about 1.3 s, plus up to as much again at random.
pub async fn backoff(attempt: u32) {
    let base = 5u64 << attempt.clamp(1, 8);
    let jitter = u64::from(uuid::Uuid::new_v4().as_bytes()[0]) * base / 256;
    tokio::time::sleep(Duration::from_millis(base + jitter)).await;
}
