//! One trail's delivery: read the event log from the trail's checkpoint, pick what its selectors
//! select while it is logging, and write one log file per account and region per window.
//!
//! # Exactly once, across crashes
//!
//! A delivery is planned before anything is written: the range of the log it covers
//! `(from, to]`, its delivery time and the logging state at `from` are saved as an *intent*
//! (catalog `delivery-intent`). Files are then put under keys derived from that plan. Only when
//! every file is stored does the checkpoint move to `to`, in the same transaction that removes
//! the intent and records the files for digests. A crash anywhere replays the same intent and
//! rewrites the same keys with the same bytes — no file is lost, none appears twice.
//!
//! # Logging state comes from the log
//!
//! Whether the trail was logging at an event is decided by the trail's own `StartLogging` /
//! `StopLogging` events in the log, in order — so `StopLogging` stops delivery exactly after
//! itself and `StartLogging` resumes exactly at itself, whatever the timing of this consumer.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use cairn_core::record::EventRecord;
use cairn_core::trail::matching::{SelectionFacts, trail_selects};
use cairn_core::trail_config::{DeliveryStatus, TrailConfig};
use cairn_integrity::KeyRing;
use cairn_store::{CatalogWrite, Commit, Store, StoredEvent};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::logfile::{LogFile, LogFileBuilder};
use crate::naming::{LogFileLocation, log_file_key, unique_part};
use crate::storage::{Storage, StorageError};

/// Catalog namespace of trail configurations (written by the API).
pub const TRAIL_NAMESPACE: &str = "trail";
/// Catalog namespace of delivery status (read by `GetTrailStatus`).
pub const STATUS_NAMESPACE: &str = "trail-status";
/// Catalog namespace of planned deliveries.
const INTENT_NAMESPACE: &str = "delivery-intent";
/// Catalog namespace of per-trail consumer state (logging at the checkpoint). The API writes
/// the first one when it creates the trail, together with the consumer's checkpoint.
pub const STATE_NAMESPACE: &str = "delivery-state";
/// Catalog namespace of the last trail configuration a consumer saw (to finish a deleted trail).
const LAST_CONFIG_NAMESPACE: &str = "delivery-last-config";
/// Catalog namespace of delivered log files, awaiting their digest.
pub const DELIVERED_NAMESPACE: &str = "delivered";

/// Most log events one delivery covers; a backlog is delivered in several rounds.
const MAX_EVENTS_PER_DELIVERY: usize = 100_000;
/// Uncompressed size at which a log file is closed and another begun (AWS: 50 MB).
const MAX_FILE_BYTES: usize = 40 * 1024 * 1024;

/// Delivery settings.
#[derive(Debug, Clone)]
pub struct DeliveryConfig {
    /// The batching window (AWS: about 5 minutes).
    pub interval: Duration,
    /// The organization id, for organization trails' paths.
    pub org_id: Option<String>,
    /// Digest signing keys; `None` writes no digests (tools and benchmarks).
    pub keys: Option<Arc<KeyRing>>,
    /// The regions the server answers for (the regions of multi-region trails' digests).
    pub regions: Vec<String>,
    /// The digest period (AWS: one hour).
    pub digest_interval: chrono::Duration,
}

/// The consumer id of a trail.
pub fn consumer_id(trail_key: &str) -> String {
    format!("delivery/{trail_key}")
}

/// A planned delivery (see the module docs).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct Intent {
    from: u64,
    to: u64,
    delivered_at: DateTime<Utc>,
    logging_at_from: bool,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub(crate) struct ConsumerState {
    /// Whether the trail was logging at the checkpoint.
    pub logging: bool,
    /// Whether logging stopped since the last digest round (even if it started again): the
    /// digest chains end there and new ones begin.
    #[serde(default)]
    pub stopped: bool,
}

/// A log file stored, remembered until a digest lists it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeliveredFile {
    /// Bucket.
    pub bucket: String,
    /// Object key.
    pub key: String,
    /// Hex SHA-256 of the object.
    pub sha256: String,
    /// Region of its events.
    pub region: String,
    /// Account of its events.
    pub account: String,
    /// Oldest `eventTime` inside.
    pub oldest_event_time: Option<String>,
    /// Newest `eventTime` inside.
    pub newest_event_time: Option<String>,
    /// When it was delivered.
    pub delivered_at: DateTime<Utc>,
}

/// Delivers one trail. Cheap to clone parts are shared through `Arc`s.
pub(crate) struct TrailConsumer {
    pub store: Arc<dyn Store>,
    pub storage: Arc<dyn Storage>,
    pub config: DeliveryConfig,
    pub trail_key: String,
}

/// What one round did.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Round {
    /// Nothing new in the log.
    Idle,
    /// Delivered `files` files up to log position `to`; `more` if a backlog remains.
    Delivered { files: usize, to: u64, more: bool },
    /// The trail is gone; its consumer was removed.
    TrailDeleted,
}

/// Why a round failed.
#[derive(Debug, thiserror::Error)]
pub(crate) enum RoundError {
    #[error("storage: {0}")]
    Storage(#[from] StorageError),
    #[error("store: {0}")]
    Store(#[from] cairn_store::StoreError),
    #[error("{0}")]
    Other(String),
}

impl TrailConsumer {
    fn consumer(&self) -> String {
        consumer_id(&self.trail_key)
    }

    async fn catalog<T: for<'de> Deserialize<'de>>(
        &self,
        ns: &str,
    ) -> Result<Option<T>, RoundError> {
        match self.store.catalog_get(ns, &self.trail_key).await? {
            None => Ok(None),
            Some(doc) => serde_json::from_str(&doc)
                .map(Some)
                .map_err(|e| RoundError::Other(format!("{ns}: {e}"))),
        }
    }

    /// One delivery round at time `now`: replays a pending intent, or plans and runs a new one.
    pub async fn round(&self, now: DateTime<Utc>) -> Result<Round, RoundError> {
        let trail: Option<TrailConfig> = self.catalog(TRAIL_NAMESPACE).await?;
        let from = self.store.checkpoint(&self.consumer()).await?;
        let state: ConsumerState = self.catalog(STATE_NAMESPACE).await?.unwrap_or_default();
        let intent = match self.catalog::<Intent>(INTENT_NAMESPACE).await? {
            Some(intent) if intent.from == from => intent,
            _ => {
                let last = self.store.last_seq().await?;
                if last <= from {
                    if trail.is_none() {
                        self.digests(now).await?;
                        self.forget().await?;
                        return Ok(Round::TrailDeleted);
                    }
                    return Ok(Round::Idle);
                }
                let to = last.min(from + MAX_EVENTS_PER_DELIVERY as u64);
                Intent {
                    from,
                    to,
                    delivered_at: now,
                    logging_at_from: state.logging,
                }
            }
        };
        // A deleted trail still delivers what it selected before its deletion, with the last
        // configuration this consumer saw.
        let last_config: Option<TrailConfig> = self.catalog(LAST_CONFIG_NAMESPACE).await?;
        if let Some(current) = &trail
            && last_config.as_ref() != Some(current)
        {
            self.store
                .commit(Commit {
                    catalog: vec![CatalogWrite::put(
                        LAST_CONFIG_NAMESPACE,
                        &self.trail_key,
                        to_json(current),
                    )],
                    ..Commit::default()
                })
                .await?;
        }
        let Some(trail) = trail.or(last_config) else {
            self.digests(now).await?;
            self.forget().await?;
            return Ok(Round::TrailDeleted);
        };
        let events = self.read_range(intent.from, intent.to).await?;
        let plan = plan_files(&trail, &events, &intent, self.config.org_id.as_deref())?;
        if !plan.files.is_empty() {
            // Make the plan durable before the first object exists.
            self.store
                .commit(Commit {
                    catalog: vec![CatalogWrite::put(
                        INTENT_NAMESPACE,
                        &self.trail_key,
                        to_json(&intent),
                    )],
                    ..Commit::default()
                })
                .await?;
        }
        let mut delivered = Vec::new();
        for (key, region, account, file) in &plan.files {
            self.storage
                .put(
                    &trail.s3_bucket_name,
                    key,
                    Bytes::from(file.gzip.clone()),
                    &[],
                )
                .await?;
            delivered.push(DeliveredFile {
                bucket: trail.s3_bucket_name.clone(),
                key: key.clone(),
                sha256: file.sha256.clone(),
                region: region.clone(),
                account: account.clone(),
                oldest_event_time: file.oldest_event_time.clone(),
                newest_event_time: file.newest_event_time.clone(),
                delivered_at: intent.delivered_at,
            });
        }
        let mut writes = vec![
            CatalogWrite::delete(INTENT_NAMESPACE, &self.trail_key),
            CatalogWrite::put(
                STATE_NAMESPACE,
                &self.trail_key,
                to_json(&ConsumerState {
                    logging: plan.logging_at_to,
                    stopped: state.stopped || plan.stopped,
                }),
            ),
        ];
        for f in &delivered {
            writes.push(CatalogWrite::put(
                &format!("{DELIVERED_NAMESPACE}/{}", self.trail_key),
                &format!("{}/{}", f.delivered_at.timestamp_millis(), f.key),
                to_json(f),
            ));
        }
        if !delivered.is_empty() {
            let mut status = self.status().await?;
            status.latest_delivery_time = Some(now);
            status.latest_delivery_attempt_time = Some(now);
            status.latest_delivery_attempt_succeeded = Some(now);
            status.latest_delivery_error = None;
            writes.push(CatalogWrite::put(
                STATUS_NAMESPACE,
                &self.trail_key,
                to_json(&status),
            ));
        }
        self.store
            .advance_checkpoint(&self.consumer(), intent.from, intent.to, writes)
            .await?;
        let more = self.store.last_seq().await? > intent.to;
        Ok(Round::Delivered {
            files: delivered.len(),
            to: intent.to,
            more,
        })
    }

    /// Records a failed attempt in the trail's status (`LatestDeliveryError`).
    pub async fn record_failure(&self, now: DateTime<Utc>, error: &str) -> Result<(), RoundError> {
        self.update_status(|status| {
            status.latest_delivery_attempt_time = Some(now);
            status.latest_delivery_error = Some(error.to_string());
        })
        .await
    }

    /// Changes the trail's status document, unless the trail is gone.
    async fn update_status(
        &self,
        change: impl FnOnce(&mut DeliveryStatus),
    ) -> Result<(), RoundError> {
        if !self.trail_exists().await? {
            return Ok(());
        }
        let mut status = self.status().await?;
        change(&mut status);
        self.store
            .commit(Commit {
                catalog: vec![CatalogWrite::put(
                    STATUS_NAMESPACE,
                    &self.trail_key,
                    to_json(&status),
                )],
                ..Commit::default()
            })
            .await?;
        Ok(())
    }

    /// A digest round (see [`crate::digests`]) with the trail's current — or, once deleted,
    /// last — configuration and the logging state at the checkpoint.
    pub async fn digests(
        &self,
        now: DateTime<Utc>,
    ) -> Result<crate::digests::DigestRound, RoundError> {
        let trail: Option<TrailConfig> = match self.catalog(TRAIL_NAMESPACE).await? {
            Some(t) => Some(t),
            None => self.catalog(LAST_CONFIG_NAMESPACE).await?,
        };
        let Some(trail) = trail else {
            return Ok(Default::default());
        };
        let mut state: ConsumerState = self.catalog(STATE_NAMESPACE).await?.unwrap_or_default();
        if state.stopped {
            // Logging stopped since the last round: end the chains with a final digest first.
            let last = self.digest_round(&trail, false, now).await?;
            if last.next_due.is_some() {
                return Ok(last); // a chain began this very second; end it in the next one
            }
            state.stopped = false;
            self.store
                .commit(Commit {
                    catalog: vec![CatalogWrite::put(
                        STATE_NAMESPACE,
                        &self.trail_key,
                        to_json(&state),
                    )],
                    ..Commit::default()
                })
                .await?;
        }
        self.digest_round(&trail, state.logging, now).await
    }

    /// Records a failed digest attempt in the trail's status (`LatestDigestDeliveryError`).
    pub async fn record_digest_failure(&self, error: &str) -> Result<(), RoundError> {
        self.update_status(|status| status.latest_digest_delivery_error = Some(error.to_string()))
            .await
    }

    /// Whether the trail (not just its last configuration) still exists.
    pub(crate) async fn trail_exists(&self) -> Result<bool, RoundError> {
        Ok(self
            .store
            .catalog_get(TRAIL_NAMESPACE, &self.trail_key)
            .await?
            .is_some())
    }

    pub(crate) async fn status(&self) -> Result<DeliveryStatus, RoundError> {
        Ok(self.catalog(STATUS_NAMESPACE).await?.unwrap_or_default())
    }

    async fn read_range(&self, from: u64, to: u64) -> Result<Vec<StoredEvent>, RoundError> {
        let mut out = Vec::new();
        let mut after = from;
        while after < to {
            let batch = self
                .store
                .read_events(after, ((to - after) as usize).min(10_000))
                .await?;
            let Some(last) = batch.last() else { break };
            after = last.seq;
            out.extend(batch.into_iter().filter(|e| e.seq <= to));
        }
        Ok(out)
    }

    /// Removes the consumer of a deleted trail (its checkpoint no longer holds back retention).
    async fn forget(&self) -> Result<(), RoundError> {
        self.store.remove_checkpoint(&self.consumer()).await?;
        let mut catalog = vec![
            CatalogWrite::delete(STATE_NAMESPACE, &self.trail_key),
            CatalogWrite::delete(INTENT_NAMESPACE, &self.trail_key),
            CatalogWrite::delete(LAST_CONFIG_NAMESPACE, &self.trail_key),
        ];
        // Whatever digest state is left (normally none: the final digest ended the chains).
        catalog.extend(self.digest_leftovers().await?);
        self.store
            .commit(Commit {
                catalog,
                ..Commit::default()
            })
            .await?;
        Ok(())
    }
}

pub(crate) fn to_json<T: Serialize>(v: &T) -> String {
    serde_json::to_string(v).expect("delivery state serializes")
}

/// The files of one delivery and the logging state after it.
struct Plan {
    files: Vec<(String, String, String, LogFile)>,
    logging_at_to: bool,
    /// Whether a `StopLogging`/`DeleteTrail` of the trail is in the range.
    stopped: bool,
}

/// Decides, purely, which events go into which files.
fn plan_files(
    trail: &TrailConfig,
    events: &[StoredEvent],
    intent: &Intent,
    org_id: Option<&str>,
) -> Result<Plan, RoundError> {
    let mut logging = intent.logging_at_from;
    let mut stopped = false;
    // (account, region) → builders (a group splits into several files past the size cap).
    let mut groups: BTreeMap<(String, String), Vec<LogFileBuilder>> = BTreeMap::new();
    let arn = trail.arn();
    for event in events {
        let Ok(record) = EventRecord::from_json(&event.record_json) else {
            continue;
        };
        let toggle = logging_toggle(&record, trail, &arn);
        if toggle == Some(true) {
            logging = true;
        }
        // Imported events came from logs already delivered elsewhere; trails don't re-deliver them.
        if logging && !event.imported {
            let facts = SelectionFacts::of(&record);
            if trail_selects(trail, &facts) {
                let account = record
                    .recipient_account_id
                    .as_str()
                    .unwrap_or(&trail.account_id)
                    .to_string();
                let region = record
                    .aws_region
                    .as_str()
                    .unwrap_or(&trail.home_region)
                    .to_string();
                let builders = groups.entry((account, region)).or_default();
                if builders.last().is_none_or(|b| b.len() >= MAX_FILE_BYTES) {
                    builders.push(LogFileBuilder::new());
                }
                let b = builders.last_mut().expect("just pushed");
                b.push(&event.record_json, record.event_time.as_str());
            }
        }
        if toggle == Some(false) {
            logging = false;
            stopped = true;
        }
    }
    let mut files = Vec::new();
    for ((account, region), builders) in groups {
        for (i, builder) in builders.into_iter().enumerate() {
            let loc = LogFileLocation {
                prefix: trail.s3_key_prefix.as_deref(),
                org_id: if trail.is_organization_trail {
                    org_id
                } else {
                    None
                },
                account: &account,
                region: &region,
                delivered_at: intent.delivered_at,
            };
            let unique = unique_part(&[
                &arn,
                &region,
                &account,
                &intent.from.to_string(),
                &intent.to.to_string(),
                &i.to_string(),
            ]);
            let file = builder
                .finish()
                .map_err(|e| RoundError::Other(e.to_string()))?;
            files.push((
                log_file_key(&loc, &unique),
                region.clone(),
                account.clone(),
                file,
            ));
        }
    }
    Ok(Plan {
        files,
        logging_at_to: logging,
        stopped,
    })
}

/// `Some(true)` for this trail's successful `StartLogging`, `Some(false)` for `StopLogging` or
/// `DeleteTrail`.
fn logging_toggle(record: &EventRecord, trail: &TrailConfig, arn: &str) -> Option<bool> {
    if record.event_source.as_str() != Some("cloudtrail.amazonaws.com")
        || !record.error_code.is_absent() && !record.error_code.is_null()
    {
        return None;
    }
    let on = match record.event_name.as_str()? {
        "StartLogging" => true,
        // Deleting a trail ends its logging too.
        "StopLogging" | "DeleteTrail" => false,
        _ => return None,
    };
    let name = record.request_parameters.as_ref()?.get("name")?.as_str()?;
    let same_trail = name == arn
        || (name == trail.name && record.aws_region.as_str() == Some(trail.home_region.as_str()));
    same_trail.then_some(on)
}

/// Runs delivery rounds for one trail until its consumer has caught up with the log (for
/// benchmarks and tools; the server uses [`crate::Delivery`]). Returns the files written.
pub async fn deliver_backlog(
    store: Arc<dyn Store>,
    storage: Arc<dyn Storage>,
    config: DeliveryConfig,
    trail_key: &str,
) -> Result<usize, String> {
    let consumer = TrailConsumer {
        store,
        storage,
        config,
        trail_key: trail_key.to_string(),
    };
    let mut files = 0;
    loop {
        match consumer
            .round(Utc::now())
            .await
            .map_err(|e| e.to_string())?
        {
            Round::Delivered { files: n, more, .. } => {
                files += n;
                if !more {
                    return Ok(files);
                }
            }
            Round::Idle | Round::TrailDeleted => return Ok(files),
        }
    }
}
