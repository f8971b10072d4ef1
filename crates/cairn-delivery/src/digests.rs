//! Digest files: every digest period, per trail × region × account, one signed digest listing
//! the log files delivered since the previous one, chained to it (reference
//! `cloudtrail-delivery.md` §2.2 and §2.7).
//!
//! # Chains
//!
//! A chain exists per scope (region, account) while the trail is logging with log file
//! validation on. Its state (catalog `digest-chain/<trail>`) is the start of the current
//! period and the link to the previous digest; it survives restarts, so a restarted server
//! continues the chain. When logging stops (the consumer has passed the `StopLogging` or
//! `DeleteTrail` event) or validation is turned off, one final digest covers the files still
//! pending and the chain ends; the next chain starts with all `previousDigest*` fields `null`,
//! as AWS does. Log files delivered while no chain runs are never digested.
//!
//! # Exactly once
//!
//! The end time of a round is saved as an intent (catalog `digest-intent`) before any digest
//! is stored. RSA PKCS#1 v1.5 signatures are deterministic, so a round replayed after a crash
//! rewrites the same keys with the same bytes; only then do the chains move on, in one commit
//! that also drops the digested files from the pending list.

use std::collections::{BTreeMap, BTreeSet};

use bytes::Bytes;
use cairn_core::trail_config::TrailConfig;
use cairn_integrity::{ChainLink, DigestInput, LogFileEntry, digest_key, produce_digest};
use cairn_store::{CatalogWrite, Commit};
use chrono::{DateTime, SubsecRound as _, Utc};
use serde::{Deserialize, Serialize};

use crate::consumer::{
    DELIVERED_NAMESPACE, DeliveredFile, RoundError, STATUS_NAMESPACE, TrailConsumer, to_json,
};

/// Catalog namespace prefix of chain states: `digest-chain/<trail key>`, keyed by scope.
const CHAIN_NAMESPACE: &str = "digest-chain";
/// Catalog namespace of planned digest rounds, keyed by trail.
const INTENT_NAMESPACE: &str = "digest-intent";

/// One chain's state between digests.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct ChainState {
    /// Start of the current period: the previous digest's end, or when the chain started.
    start: DateTime<Utc>,
    /// The previous digest; `None` until the chain's first digest.
    previous: Option<ChainLink>,
}

/// A planned digest round.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct Intent {
    end: DateTime<Utc>,
}

/// A chain's scope: the region and account whose log files it lists.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
struct Scope {
    region: String,
    account: String,
}

impl Scope {
    fn key(&self) -> String {
        format!("{}/{}", self.region, self.account)
    }

    fn parse(key: &str) -> Option<Scope> {
        let (region, account) = key.split_once('/')?;
        Some(Scope {
            region: region.to_string(),
            account: account.to_string(),
        })
    }
}

/// What a digest round did.
#[derive(Debug, Default, PartialEq, Eq)]
pub(crate) struct DigestRound {
    /// Digests stored.
    pub digests: usize,
    /// When the next digest is due, if a chain runs.
    pub next_due: Option<DateTime<Utc>>,
}

impl TrailConsumer {
    fn chain_namespace(&self) -> String {
        format!("{CHAIN_NAMESPACE}/{}", self.trail_key)
    }

    fn delivered_namespace(&self) -> String {
        format!("{DELIVERED_NAMESPACE}/{}", self.trail_key)
    }

    /// Deletes of every chain, intent and pending file of the trail (for a forgotten trail).
    pub(crate) async fn digest_leftovers(&self) -> Result<Vec<CatalogWrite>, RoundError> {
        let mut writes = vec![CatalogWrite::delete(INTENT_NAMESPACE, &self.trail_key)];
        for ns in [self.chain_namespace(), self.delivered_namespace()] {
            for (k, _) in self.store.catalog_list(&ns).await? {
                writes.push(CatalogWrite::delete(&ns, &k));
            }
        }
        Ok(writes)
    }

    /// The regions a trail's chains cover while it logs.
    fn digest_regions(&self, trail: &TrailConfig) -> Vec<String> {
        if trail.is_multi_region_trail {
            let mut regions = self.config.regions.clone();
            if !regions.contains(&trail.home_region) {
                regions.push(trail.home_region.clone());
            }
            regions
        } else {
            vec![trail.home_region.clone()]
        }
    }

    /// One digest round at `now` for `trail` (the current or, for a deleted trail, the last
    /// configuration), `logging` as of the consumer's checkpoint. Does nothing without a key
    /// ring (digests off).
    pub(crate) async fn digest_round(
        &self,
        trail: &TrailConfig,
        logging: bool,
        now: DateTime<Utc>,
    ) -> Result<DigestRound, RoundError> {
        let Some(keys) = self.config.keys.clone() else {
            return Ok(DigestRound::default());
        };
        // Digest times have whole seconds. A round ends at the next whole second, so every
        // file delivered before the round (delivered_at <= now) falls inside its period.
        let end_of_round = match now.trunc_subsecs(0) {
            t if t == now => t,
            t => t + chrono::Duration::seconds(1),
        };
        let now = now.trunc_subsecs(0);
        let active = logging && trail.log_file_validation_enabled;
        let mut chains: BTreeMap<Scope, ChainState> = BTreeMap::new();
        for (k, v) in self.store.catalog_list(&self.chain_namespace()).await? {
            let (Some(scope), Ok(state)) = (Scope::parse(&k), serde_json::from_str(&v)) else {
                tracing::warn!(trail = %self.trail_key, chain = %k, "unreadable digest chain state; ignored");
                continue;
            };
            chains.insert(scope, state);
        }
        let mut pending: Vec<(String, DeliveredFile)> = Vec::new();
        for (k, v) in self.store.catalog_list(&self.delivered_namespace()).await? {
            match serde_json::from_str(&v) {
                Ok(f) => pending.push((k, f)),
                Err(e) => {
                    tracing::warn!(trail = %self.trail_key, error = %e, "unreadable delivered-file entry; ignored")
                }
            }
        }
        let intent: Option<Intent> = self
            .store
            .catalog_get(INTENT_NAMESPACE, &self.trail_key)
            .await?
            .and_then(|doc| serde_json::from_str(&doc).ok());

        let end = match intent {
            Some(intent) => intent.end,
            None => {
                if active {
                    // Start chains for scopes that have none (first enable, new region or
                    // account, restart after StopLogging).
                    let mut scopes: BTreeSet<Scope> = self
                        .digest_regions(trail)
                        .into_iter()
                        .map(|region| Scope {
                            region,
                            account: trail.account_id.clone(),
                        })
                        .collect();
                    scopes.extend(pending.iter().map(|(_, f)| Scope {
                        region: f.region.clone(),
                        account: f.account.clone(),
                    }));
                    let mut writes = Vec::new();
                    for scope in scopes {
                        if chains.contains_key(&scope) {
                            continue;
                        }
                        // Rounded up, like every round's end: a chain started in the second
                        // the previous one ended (StopLogging then StartLogging) must not begin
                        // before that chain's final digest ends, or validators walking back
                        // from the new chain skip the old chain's last digests.
                        let state = ChainState {
                            start: end_of_round,
                            previous: None,
                        };
                        // Files still pending (delivered since the last round, while
                        // validation was being turned on) go into the first digest: every file
                        // stored inside a digest's period is then listed by it, which is what
                        // `cairn validate-logs` checks for unlisted files.
                        writes.push(CatalogWrite::put(
                            &self.chain_namespace(),
                            &scope.key(),
                            to_json(&state),
                        ));
                        chains.insert(scope, state);
                    }
                    if !writes.is_empty() {
                        self.store
                            .commit(Commit {
                                catalog: writes,
                                ..Commit::default()
                            })
                            .await?;
                    }
                    let due = chains
                        .values()
                        .map(|c| c.start + self.config.digest_interval)
                        .min();
                    match due {
                        Some(due) if due <= now => {}
                        _ => {
                            return Ok(DigestRound {
                                digests: 0,
                                next_due: due,
                            });
                        }
                    }
                } else if chains.is_empty() {
                    // No chain: whatever was delivered meanwhile is never digested.
                    if !pending.is_empty() {
                        self.store
                            .commit(Commit {
                                catalog: pending
                                    .iter()
                                    .map(|(k, _)| {
                                        CatalogWrite::delete(&self.delivered_namespace(), k)
                                    })
                                    .collect(),
                                ..Commit::default()
                            })
                            .await?;
                    }
                    return Ok(DigestRound::default());
                }
                // A final digest needs an end after every chain's start.
                if chains.values().any(|c| c.start >= now) {
                    return Ok(DigestRound {
                        digests: 0,
                        next_due: Some(now + chrono::Duration::seconds(1)),
                    });
                }
                self.store
                    .commit(Commit {
                        catalog: vec![CatalogWrite::put(
                            INTENT_NAMESPACE,
                            &self.trail_key,
                            to_json(&Intent { end: end_of_round }),
                        )],
                        ..Commit::default()
                    })
                    .await?;
                end_of_round
            }
        };

        let mut writes = vec![CatalogWrite::delete(INTENT_NAMESPACE, &self.trail_key)];
        let mut stored = 0;
        for (scope, chain) in &chains {
            if chain.start >= end {
                continue; // started in this very second; its first period is still open
            }
            let files: Vec<&(String, DeliveredFile)> = pending
                .iter()
                .filter(|(_, f)| {
                    f.region == scope.region && f.account == scope.account && f.delivered_at <= end
                })
                .collect();
            let entries: Vec<LogFileEntry> = files
                .iter()
                .map(|(_, f)| LogFileEntry {
                    bucket: f.bucket.clone(),
                    key: f.key.clone(),
                    sha256_hex: f.sha256.clone(),
                    oldest_event_time: f.oldest_event_time.clone(),
                    newest_event_time: f.newest_event_time.clone(),
                })
                .collect();
            let key = digest_key(
                trail.s3_key_prefix.as_deref(),
                if trail.is_organization_trail {
                    self.config.org_id.as_deref()
                } else {
                    None
                },
                &scope.account,
                &scope.region,
                &trail.name,
                &trail.home_region,
                end,
            );
            let input = DigestInput {
                account: &scope.account,
                start: chain.start,
                end,
                bucket: &trail.s3_bucket_name,
                key: &key,
                fingerprint: "",
                log_files: &entries,
                previous: chain.previous.as_ref(),
            };
            let signed = produce_digest(&keys, &scope.region, &input)
                .map_err(|e| RoundError::Other(format!("signing digest {key}: {e}")))?;
            self.storage
                .put(
                    &trail.s3_bucket_name,
                    &key,
                    Bytes::from(signed.gzip.clone()),
                    &signed.metadata(),
                )
                .await?;
            stored += 1;
            for (k, _) in files {
                writes.push(CatalogWrite::delete(&self.delivered_namespace(), k));
            }
            writes.push(if active {
                CatalogWrite::put(
                    &self.chain_namespace(),
                    &scope.key(),
                    to_json(&ChainState {
                        start: end,
                        previous: Some(signed.link.clone()),
                    }),
                )
            } else {
                CatalogWrite::delete(&self.chain_namespace(), &scope.key())
            });
        }
        if !active {
            // The chains ended; files still pending (delivered after `end`) are never digested.
            for (k, f) in &pending {
                if f.delivered_at > end {
                    writes.push(CatalogWrite::delete(&self.delivered_namespace(), k));
                }
            }
        }
        if stored > 0 && self.trail_exists().await? {
            let mut status = self.status().await?;
            status.latest_digest_delivery_time = Some(end);
            status.latest_digest_delivery_error = None;
            writes.push(CatalogWrite::put(
                STATUS_NAMESPACE,
                &self.trail_key,
                to_json(&status),
            ));
        }
        self.store
            .commit(Commit {
                catalog: writes,
                ..Commit::default()
            })
            .await?;
        Ok(DigestRound {
            digests: stored,
            next_due: active.then(|| end + self.config.digest_interval),
        })
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use cairn_integrity::{KeyRing, ValidateRequest, validate};
    use cairn_store::{SqliteStore, Store};
    use chrono::{Duration, TimeZone};

    use super::*;
    use crate::consumer::{DeliveryConfig, STATE_NAMESPACE, TRAIL_NAMESPACE};
    use crate::storage::{LocalStorage, Storage as _};

    const ACCT: &str = "123456789012";
    const REGION: &str = "us-east-1";
    const BUCKET: &str = "trail-bucket";

    struct Fx {
        _dir: tempfile::TempDir,
        consumer: TrailConsumer,
        storage: LocalStorage,
        keys: Arc<KeyRing>,
        t0: DateTime<Utc>,
        trail: TrailConfig,
    }

    fn trail() -> TrailConfig {
        let t0 = Utc.with_ymd_and_hms(2026, 11, 23, 8, 0, 0).unwrap();
        TrailConfig {
            log_file_validation_enabled: true,
            is_logging: true,
            start_logging_time: Some(t0),
            ..TrailConfig::new("tr", REGION, ACCT, BUCKET, t0)
        }
    }

    async fn fixture() -> Fx {
        let dir = tempfile::tempdir().unwrap();
        let t0 = Utc.with_ymd_and_hms(2026, 11, 23, 8, 0, 0).unwrap();
        let store: Arc<dyn Store> =
            Arc::new(SqliteStore::open(&dir.path().join("events.db")).unwrap());
        std::fs::create_dir_all(dir.path().join("buckets").join(BUCKET)).unwrap();
        let storage = LocalStorage::new(dir.path().join("buckets"));
        let keys = Arc::new(
            KeyRing::open(&dir.path().join("keys.json"), &[REGION.to_string()], t0).unwrap(),
        );
        let trail = trail();
        let consumer = TrailConsumer {
            store: store.clone(),
            storage: Arc::new(storage.clone()),
            config: DeliveryConfig {
                interval: std::time::Duration::from_secs(300),
                org_id: None,
                keys: Some(keys.clone()),
                regions: vec![REGION.to_string()],
                digest_interval: Duration::hours(1),
            },
            trail_key: trail.key(),
        };
        let fx = Fx {
            _dir: dir,
            consumer,
            storage,
            keys,
            t0,
            trail,
        };
        fx.put_catalog(TRAIL_NAMESPACE, &fx.trail.key(), to_json(&fx.trail))
            .await;
        fx.set_logging(true).await;
        fx
    }

    impl Fx {
        async fn put_catalog(&self, ns: &str, key: &str, doc: String) {
            self.consumer
                .store
                .commit(Commit {
                    catalog: vec![CatalogWrite::put(ns, key, doc)],
                    ..Commit::default()
                })
                .await
                .unwrap();
        }

        async fn set_logging(&self, on: bool) {
            self.put_catalog(
                STATE_NAMESPACE,
                &self.trail.key(),
                serde_json::json!({ "logging": on }).to_string(),
            )
            .await;
        }

        /// Stores a log file delivered at `at` and records it as delivery does.
        async fn deliver(&self, name: &str, at: DateTime<Utc>) -> String {
            let key = format!("AWSLogs/{ACCT}/CloudTrail/{REGION}/2026/11/23/{name}.json.gz");
            let json = format!(
                r#"{{"Records":[{{"eventTime":"{}"}}]}}"#,
                at.format("%Y-%m-%dT%H:%M:%SZ")
            );
            let gz = cairn_integrity::digest::gzip(json.as_bytes());
            self.storage
                .put(BUCKET, &key, Bytes::from(gz), &[])
                .await
                .unwrap();
            let f = DeliveredFile {
                bucket: BUCKET.into(),
                key: key.clone(),
                sha256: cairn_integrity::digest::sha256_hex(json.as_bytes()),
                region: REGION.into(),
                account: ACCT.into(),
                oldest_event_time: Some(at.format("%Y-%m-%dT%H:%M:%SZ").to_string()),
                newest_event_time: Some(at.format("%Y-%m-%dT%H:%M:%SZ").to_string()),
                delivered_at: at,
            };
            self.put_catalog(
                &format!("{DELIVERED_NAMESPACE}/{}", self.trail.key()),
                &format!("{}/{key}", at.timestamp_millis()),
                to_json(&f),
            )
            .await;
            key
        }

        /// Leaves the intent a crash after planning a round ending at `minutes` would leave.
        async fn plan_round_ending(&self, minutes: i64) {
            self.put_catalog(
                INTENT_NAMESPACE,
                &self.trail.key(),
                to_json(&Intent {
                    end: self.t0 + Duration::minutes(minutes),
                }),
            )
            .await;
        }

        async fn round(&self, minutes: i64) -> DigestRound {
            self.consumer
                .digests(self.t0 + Duration::minutes(minutes))
                .await
                .unwrap()
        }

        fn digest_json(&self, minutes: i64) -> serde_json::Value {
            let key = digest_key(
                None,
                None,
                ACCT,
                REGION,
                "tr",
                REGION,
                self.t0 + Duration::minutes(minutes),
            );
            let (body, meta) = self.storage.get_blocking(BUCKET, &key).unwrap().unwrap();
            assert_eq!(meta.get("signature-algorithm").unwrap(), "SHA256withRSA");
            let mut json = Vec::new();
            std::io::Read::read_to_end(&mut flate2::read::GzDecoder::new(&body[..]), &mut json)
                .unwrap();
            serde_json::from_slice(&json).unwrap()
        }

        fn validate(&self, end_minutes: i64) -> cairn_integrity::Report {
            let listed = self
                .storage
                .list_blocking(
                    BUCKET,
                    &format!("AWSLogs/{ACCT}/CloudTrail-Digest/{REGION}"),
                )
                .unwrap();
            let req = ValidateRequest {
                bucket: BUCKET.into(),
                prefix: None,
                org_id: None,
                account: ACCT.into(),
                region: REGION.into(),
                trail_name: "tr".into(),
                home_region: REGION.into(),
                start: self.t0,
                end: self.t0 + Duration::minutes(end_minutes),
                listed_digests: listed.into_iter().map(|l| l.key).collect(),
                public_keys: self
                    .keys
                    .public_keys(REGION, self.t0, self.t0 + Duration::days(1))
                    .into_iter()
                    .map(|k| (k.fingerprint, k.der))
                    .collect(),
                present_log_files: None,
            };
            validate(&req, &self.storage).unwrap()
        }
    }

    #[tokio::test]
    async fn hourly_chain_final_digest_on_stop_and_a_new_chain_after_start() {
        let fx = fixture().await;
        // Validation on, logging: the chain starts; nothing is due yet.
        let r = fx.round(0).await;
        assert_eq!(r.digests, 0);
        assert_eq!(r.next_due, Some(fx.t0 + Duration::hours(1)));
        let l1 = fx.deliver("l1", fx.t0 + Duration::minutes(5)).await;
        let l2 = fx.deliver("l2", fx.t0 + Duration::minutes(10)).await;
        assert_eq!(fx.round(30).await.digests, 0);
        // One hour in: the first digest, with both files and null previous fields.
        assert_eq!(fx.round(60).await.digests, 1);
        let d1 = fx.digest_json(60);
        assert_eq!(d1["digestStartTime"], "2026-11-23T08:00:00Z");
        assert_eq!(d1["digestEndTime"], "2026-11-23T09:00:00Z");
        assert_eq!(d1["previousDigestSignature"], serde_json::Value::Null);
        let listed: Vec<&str> = d1["logFiles"]
            .as_array()
            .unwrap()
            .iter()
            .map(|f| f["s3Object"].as_str().unwrap())
            .collect();
        assert_eq!(listed, [l1.as_str(), l2.as_str()]);
        // An hour without files still has its digest, chained to the first.
        assert_eq!(fx.round(120).await.digests, 1);
        let d2 = fx.digest_json(120);
        assert_eq!(d2["logFiles"].as_array().unwrap().len(), 0);
        assert_eq!(d2["newestEventTime"], serde_json::Value::Null);
        assert_eq!(d2["previousDigestS3Object"], d1["digestS3Object"]);
        assert_eq!(d2["digestStartTime"], d1["digestEndTime"]);
        // StopLogging (as the consumer sees it): a final digest with what is pending.
        let l3 = fx.deliver("l3", fx.t0 + Duration::minutes(125)).await;
        fx.set_logging(false).await;
        assert_eq!(fx.round(130).await.digests, 1);
        let d3 = fx.digest_json(130);
        assert_eq!(d3["logFiles"][0]["s3Object"], l3.as_str());
        assert_eq!(d3["previousDigestS3Object"], d2["digestS3Object"]);
        // Stopped: no more digests; files delivered meanwhile are never digested.
        fx.deliver("stray", fx.t0 + Duration::minutes(140)).await;
        assert_eq!(fx.round(200).await, DigestRound::default());
        // StartLogging again: a new chain whose first digest has null previous fields.
        fx.set_logging(true).await;
        assert_eq!(fx.round(210).await.digests, 0);
        assert_eq!(fx.round(270).await.digests, 1);
        let d4 = fx.digest_json(270);
        assert_eq!(d4["previousDigestS3Object"], serde_json::Value::Null);
        assert_eq!(d4["logFiles"].as_array().unwrap().len(), 0);
        // The whole history validates: 4 digests, 3 log files, one gap (the stop).
        let report = fx.validate(300);
        assert!(report.ok(), "{:?}", report.findings);
        assert_eq!((report.digests_valid, report.logs_valid), (4, 3));
        assert!(
            report
                .findings
                .iter()
                .any(|f| matches!(f, cairn_integrity::Finding::Gap { .. }))
        );
    }

    #[tokio::test]
    async fn a_round_replayed_after_a_crash_rewrites_the_same_digest() {
        let fx = fixture().await;
        fx.round(0).await;
        fx.deliver("l1", fx.t0 + Duration::minutes(5)).await;
        // A crash after the intent was saved: the replay, much later, keeps the planned end.
        fx.plan_round_ending(61).await;
        assert_eq!(fx.round(90).await.digests, 1);
        let first = fx.digest_json(61);
        assert_eq!(first["logFiles"].as_array().unwrap().len(), 1);
        // Replaying the same intent again writes identical bytes (deterministic signatures).
        let key = first["digestS3Object"].as_str().unwrap().to_string();
        let before = fx.storage.get_blocking(BUCKET, &key).unwrap().unwrap();
        let chains = fx
            .consumer
            .store
            .catalog_list(&format!("{CHAIN_NAMESPACE}/{}", fx.trail.key()))
            .await
            .unwrap();
        // Put the chain back as it was before the round, and the intent, then replay.
        let state = ChainState {
            start: fx.t0,
            previous: None,
        };
        assert_eq!(chains.len(), 1);
        fx.put_catalog(
            &format!("{CHAIN_NAMESPACE}/{}", fx.trail.key()),
            &chains[0].0,
            to_json(&state),
        )
        .await;
        fx.deliver("l1", fx.t0 + Duration::minutes(5)).await;
        fx.plan_round_ending(61).await;
        assert_eq!(fx.round(95).await.digests, 1);
        let after = fx.storage.get_blocking(BUCKET, &key).unwrap().unwrap();
        assert_eq!(before, after);
    }

    #[tokio::test]
    async fn no_digests_without_validation() {
        let fx = fixture().await;
        let mut t = fx.trail.clone();
        t.log_file_validation_enabled = false;
        fx.put_catalog(TRAIL_NAMESPACE, &t.key(), to_json(&t)).await;
        fx.deliver("l1", fx.t0 + Duration::minutes(5)).await;
        assert_eq!(fx.round(0).await, DigestRound::default());
        assert_eq!(fx.round(120).await, DigestRound::default());
        // The file was dropped from the pending list: it is never digested.
        let pending = fx
            .consumer
            .store
            .catalog_list(&format!("{DELIVERED_NAMESPACE}/{}", t.key()))
            .await
            .unwrap();
        assert!(pending.is_empty());
    }
}
