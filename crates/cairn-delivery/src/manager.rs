//! Runs one consumer task per trail: started when a trail appears, ended once a deleted trail
//! has delivered what it selected. Each task delivers at window boundaries (multiples of the
//! interval, like AWS's 5-minute files), catches up on a backlog without waiting, and backs
//! off on storage failures — recording them in the trail's status — without losing anything.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use cairn_store::Store;
use chrono::{DateTime, Utc};
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::consumer::{DeliveryConfig, Round, STATE_NAMESPACE, TRAIL_NAMESPACE, TrailConsumer};
use crate::storage::Storage;

/// How often the manager looks for new trails.
const DISCOVER_EVERY: Duration = Duration::from_secs(1);
/// Longest wait between retries after a failure.
const MAX_BACKOFF: Duration = Duration::from_secs(60);

/// Trail delivery for a whole server.
pub struct Delivery {
    store: Arc<dyn Store>,
    storage: Arc<dyn Storage>,
    config: DeliveryConfig,
}

impl Delivery {
    /// Delivery over `store` into `storage`.
    pub fn new(
        store: Arc<dyn Store>,
        storage: Arc<dyn Storage>,
        config: DeliveryConfig,
    ) -> Delivery {
        Delivery {
            store,
            storage,
            config,
        }
    }

    /// Runs until `shutdown` turns true; consumer tasks finish their current round first.
    pub async fn run(self, mut shutdown: watch::Receiver<bool>) {
        let mut tasks: HashMap<String, JoinHandle<()>> = HashMap::new();
        loop {
            tasks.retain(|_, t| !t.is_finished());
            match self.trail_keys().await {
                Ok(keys) => {
                    for key in keys {
                        if let std::collections::hash_map::Entry::Vacant(slot) =
                            tasks.entry(key.clone())
                        {
                            let consumer = TrailConsumer {
                                store: self.store.clone(),
                                storage: self.storage.clone(),
                                config: self.config.clone(),
                                trail_key: key,
                            };
                            slot.insert(tokio::spawn(run_consumer(consumer, shutdown.clone())));
                        }
                    }
                }
                Err(e) => tracing::warn!(error = %e, "delivery: listing trails failed"),
            }
            tokio::select! {
                _ = tokio::time::sleep(DISCOVER_EVERY) => {}
                _ = shutdown.changed() => break,
            }
        }
        for (_, t) in tasks {
            let _ = t.await;
        }
    }

    /// Trails that exist, plus consumers of deleted trails that still have work.
    async fn trail_keys(&self) -> Result<Vec<String>, cairn_store::StoreError> {
        let mut keys: Vec<String> = self
            .store
            .catalog_list(TRAIL_NAMESPACE)
            .await?
            .into_iter()
            .map(|(k, _)| k)
            .collect();
        for (k, _) in self.store.catalog_list(STATE_NAMESPACE).await? {
            if !keys.contains(&k) {
                keys.push(k);
            }
        }
        Ok(keys)
    }
}

/// The next window boundary after `now`.
fn next_boundary(now: DateTime<Utc>, interval: Duration) -> DateTime<Utc> {
    let step = interval.as_millis().max(1) as i64;
    let next = (now.timestamp_millis() / step + 1) * step;
    DateTime::from_timestamp_millis(next).unwrap_or(now)
}

async fn run_consumer(consumer: TrailConsumer, mut shutdown: watch::Receiver<bool>) {
    let mut backoff = Duration::from_secs(1);
    let mut wake = next_boundary(Utc::now(), consumer.config.interval);
    loop {
        let wait = (wake - Utc::now()).to_std().unwrap_or(Duration::ZERO);
        tokio::select! {
            _ = tokio::time::sleep(wait) => {}
            _ = shutdown.changed() => return,
        }
        let now = Utc::now();
        match consumer.round(now).await {
            Ok(Round::TrailDeleted) => {
                tracing::info!(trail = %consumer.trail_key, "delivery: trail deleted; consumer stopped");
                return;
            }
            Ok(Round::Delivered { more: true, .. }) => {
                backoff = Duration::from_secs(1);
                wake = Utc::now();
            }
            Ok(round) => {
                if let Round::Delivered { files, to, .. } = round {
                    tracing::debug!(trail = %consumer.trail_key, files, to, "delivery: delivered");
                }
                backoff = Duration::from_secs(1);
                wake = next_boundary(Utc::now(), consumer.config.interval);
                // Digests follow the files they list: same task, after the delivery round.
                match consumer.digests(Utc::now()).await {
                    Ok(d) => {
                        if d.digests > 0 {
                            tracing::debug!(trail = %consumer.trail_key, digests = d.digests, "delivery: digests stored");
                        }
                        if let Some(due) = d.next_due {
                            wake = wake.min(due.max(Utc::now()));
                        }
                    }
                    Err(e) => {
                        tracing::warn!(trail = %consumer.trail_key, error = %e, retry_in = ?backoff, "digest delivery failed; will retry");
                        if let Err(e) = consumer.record_digest_failure(&e.to_string()).await {
                            tracing::warn!(error = %e, "delivery: could not record the digest failure in the trail status");
                        }
                        wake = wake.min(
                            Utc::now() + chrono::Duration::from_std(backoff).unwrap_or_default(),
                        );
                    }
                }
            }
            Err(e) => {
                tracing::warn!(trail = %consumer.trail_key, error = %e, retry_in = ?backoff, "delivery failed; will retry");
                if let Err(e) = consumer.record_failure(now, &e.to_string()).await {
                    tracing::warn!(error = %e, "delivery: could not record the failure in the trail status");
                }
                wake = Utc::now() + chrono::Duration::from_std(backoff).unwrap_or_default();
                backoff = (backoff * 2).min(MAX_BACKOFF);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn boundaries_are_multiples_of_the_interval() {
        let t = Utc.with_ymd_and_hms(2026, 11, 23, 8, 12, 31).unwrap();
        assert_eq!(
            next_boundary(t, Duration::from_secs(300)),
            Utc.with_ymd_and_hms(2026, 11, 23, 8, 15, 0).unwrap()
        );
        assert_eq!(
            next_boundary(t, Duration::from_secs(1)),
            Utc.with_ymd_and_hms(2026, 11, 23, 8, 12, 32).unwrap()
        );
    }
}
