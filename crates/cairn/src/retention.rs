//! Retention: events leave the history once they are older than the retention period, counted
//! from when Cairn *received* them (so imported old logs stay searchable for the full period).
//!
//! Runs in the background in small batches through the store's writer, so ingestion is never
//! blocked for long: each batch is one short transaction between other commits.

use std::sync::Arc;
use std::time::Duration;

use cairn_store::Store;

/// Events deleted per transaction.
const BATCH: usize = 1_000;
/// How often expiry runs.
const EVERY: Duration = Duration::from_secs(60);

/// Expires events older than `retention` now and then every minute, forever.
pub async fn run(store: Arc<dyn Store>, retention: Duration) {
    let mut tick = tokio::time::interval(EVERY);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        let cutoff = chrono::Utc::now().timestamp_millis() - retention.as_millis() as i64;
        let mut total = 0u64;
        loop {
            match store.expire_events(cutoff, BATCH).await {
                Ok(n) => {
                    total += n;
                    if n < BATCH as u64 {
                        break;
                    }
                    tokio::task::yield_now().await;
                }
                Err(e) => {
                    tracing::warn!(error = %e, "retention: expiring old events failed; will retry");
                    break;
                }
            }
        }
        if total > 0 {
            tracing::info!(
                expired_events = total,
                "retention: removed events past the retention period"
            );
        }
    }
}
