//! What every request handler can reach: the store, credentials, settings and the clock.

use std::sync::Arc;
use std::time::Duration;

use cairn_store::Store;
use chrono::{DateTime, Utc};

use crate::buckets::Buckets;
use crate::credentials::CredentialStore;
use cairn_integrity::KeyRing;

/// Where "now" comes from; tests pass a fixed clock.
pub trait Clock: Send + Sync + 'static {
    /// The current time, UTC.
    fn now(&self) -> DateTime<Utc>;
}

/// The wall clock.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> DateTime<Utc> {
        Utc::now()
    }
}

/// Settings of the API edge.
#[derive(Debug, Clone)]
pub struct ApiConfig {
    /// The 12-digit account id Cairn answers as.
    pub account_id: String,
    /// The default region: the one used when a request names none (`--insecure-no-auth`).
    pub region: String,
    /// Every region Cairn answers for (includes `region`). A signed request's region is the one
    /// its credential scope names; it becomes the call's `awsRegion` and decides which trails are
    /// home and which are shadows.
    pub regions: Vec<String>,
    /// How far a request's `X-Amz-Date` may be from now (AWS: 15 minutes).
    pub max_clock_skew: Duration,
    /// Largest accepted request body, in bytes.
    pub max_body_bytes: usize,
    /// `false` only with `--insecure-no-auth`: every caller is the admin, unauthenticated.
    pub require_auth: bool,
    /// SNS topic ARNs trails may notify (Cairn's stand-in for topic policies).
    pub sns_topics: Vec<String>,
    /// The organization (`o-...`) this account manages, if any; needed for organization trails.
    pub organization_id: Option<String>,
    /// LookupEvents requests per second (AWS: 2); `None` means no limit.
    pub lookup_requests_per_second: Option<f64>,
}

impl ApiConfig {
    /// Defaults for tests: account `123456789012`, `us-east-1`, auth on.
    pub fn for_test() -> ApiConfig {
        ApiConfig {
            account_id: "123456789012".into(),
            region: "us-east-1".into(),
            regions: vec!["us-east-1".into()],
            max_clock_skew: Duration::from_secs(15 * 60),
            max_body_bytes: 2 * 1024 * 1024,
            require_auth: true,
            sns_topics: Vec::new(),
            organization_id: None,
            lookup_requests_per_second: None,
        }
    }
}

/// Shared state of the server.
#[derive(Clone)]
pub struct AppState {
    /// The event log and catalog.
    pub store: Arc<dyn Store>,
    /// Access keys and the principals they belong to.
    pub credentials: Arc<CredentialStore>,
    /// Settings.
    pub config: Arc<ApiConfig>,
    /// Time source.
    pub clock: Arc<dyn Clock>,
    /// Buckets trails may deliver to.
    pub buckets: Arc<dyn Buckets>,
    /// Digest signing keys.
    pub keys: Arc<KeyRing>,
    /// The LookupEvents rate limit.
    pub lookup_throttle: Arc<crate::throttle::Throttle>,
    /// Test aid: where to log every response (see `layers::response_log`).
    pub response_log: Option<crate::layers::response_log::ResponseLog>,
    /// Held by every state-changing call from reading the catalog until its commit is durable,
    /// so two writes never decide on the same stale state. Reads never take it.
    pub write_lock: Arc<tokio::sync::Mutex<()>>,
}

impl AppState {
    /// State with the system clock.
    pub fn new(
        store: Arc<dyn Store>,
        credentials: Arc<CredentialStore>,
        config: ApiConfig,
        buckets: Arc<dyn Buckets>,
        keys: Arc<KeyRing>,
    ) -> AppState {
        AppState {
            store,
            credentials,
            lookup_throttle: Arc::new(crate::throttle::Throttle::new(
                config.lookup_requests_per_second,
            )),
            config: Arc::new(config),
            clock: Arc::new(SystemClock),
            buckets,
            keys,
            response_log: std::env::var_os("CAIRN_DEBUG_RESPONSE_LOG")
                .and_then(|p| crate::layers::response_log::ResponseLog::open(p.into()).ok()),
            write_lock: Arc::new(tokio::sync::Mutex::new(())),
        }
    }
}
