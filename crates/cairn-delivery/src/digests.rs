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
                Err(e) => tracing::warn!(trail = %self.trail_key, error = %e, "unreadable delivered-file entry; ignored"),
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
                        let state = ChainState {
                            start: now,
                            previous: None,
                        };
                        writes.push(CatalogWrite::put(
                            &self.chain_namespace(),
                            &scope.key(),
                            to_json(&state),
                        ));
                        // Files delivered before the chain began are never digested.
                        for (k, f) in &pending {
                            if f.region == scope.region
                                && f.account == scope.account
                                && f.delivered_at < now
                            {
                                writes.push(CatalogWrite::delete(&self.delivered_namespace(), k));
                            }
                        }
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
                                    .map(|(k, _)| CatalogWrite::delete(&self.delivered_namespace(), k))
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
                            to_json(&Intent { end: now }),
                        )],
                        ..Commit::default()
                    })
                    .await?;
                now
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
