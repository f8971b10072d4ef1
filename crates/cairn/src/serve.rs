//! `cairn serve`: open the data dir, the store and the credentials, then serve until SIGINT or
//! SIGTERM.

use std::sync::Arc;

use anyhow::Context;
use cairn_api::buckets::{Buckets, LocalBuckets};
use cairn_api::credentials::{CredentialStore, UserKey};
use cairn_api::sigv4::SecretKey;
use cairn_api::{ApiConfig, AppState};
use cairn_core::principal::{IdentityType, Role};
use cairn_delivery::{Delivery, DeliveryConfig, LocalStorage, S3Storage, Storage};
use cairn_integrity::KeyRing;
use cairn_store::SqliteStore;

use crate::config::{ServeArgs, Settings};
use crate::data_dir::DataDir;

pub fn run(args: ServeArgs) -> anyhow::Result<()> {
    init_tracing();
    let settings = Settings::resolve(args)?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    runtime.block_on(serve(settings))
}

fn init_tracing() {
    let filter = tracing_subscriber::EnvFilter::try_from_env("CAIRN_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .init();
}

async fn serve(settings: Settings) -> anyhow::Result<()> {
    let data = DataDir::create(&settings.data_dir)?;
    let account_id = data.account_id(settings.account_id.as_deref())?;

    let mut fixed_keys: Vec<UserKey> = settings
        .users
        .iter()
        .map(|u| UserKey {
            name: u.name.clone(),
            identity: IdentityType::IamUser,
            role: u.role,
            principal_id: format!("AIDA{}", u.access_key_id.trim_start_matches("AKIA")),
            access_key_id: u.access_key_id.clone(),
            secret_access_key: SecretKey::new(u.secret_access_key.clone()),
            console_password: None,
        })
        .collect();
    let generated = match &settings.admin_key {
        Some((id, secret)) => {
            fixed_keys.push(UserKey {
                name: "root".into(),
                identity: IdentityType::Root,
                role: Role::Admin,
                principal_id: account_id.clone(),
                access_key_id: id.clone(),
                secret_access_key: SecretKey::new(secret.clone()),
                console_password: None,
            });
            None
        }
        None => data.ensure_admin_key(&account_id)?,
    };
    let credentials = Arc::new(
        CredentialStore::new(&account_id, Some(data.credentials()), fixed_keys)
            .context("loading credentials")?,
    );

    let store = SqliteStore::open(&data.events_db())
        .with_context(|| format!("opening the event store {}", data.events_db().display()))?;
    let config = ApiConfig {
        account_id: account_id.clone(),
        region: settings.region.clone(),
        regions: settings.regions.clone(),
        max_clock_skew: settings.max_clock_skew,
        max_body_bytes: settings.max_body_bytes,
        require_auth: !settings.insecure_no_auth,
        sns_topics: settings
            .sns_topics
            .iter()
            .map(|t| match t.starts_with("arn:") {
                true => t.clone(),
                false => format!("arn:aws:sns:{}:{account_id}:{t}", settings.region),
            })
            .collect(),
        organization_id: settings.organization_id.clone(),
        lookup_requests_per_second: settings.lookup_requests_per_second,
    };
    if settings.insecure_no_auth {
        tracing::warn!(
            "AUTHENTICATION IS OFF (--insecure-no-auth): anyone who can reach {} acts as the admin",
            settings.listen
        );
    }
    let store: Arc<dyn cairn_store::Store> = Arc::new(store);
    tokio::spawn(crate::retention::run(store.clone(), settings.retention));
    let storage: Arc<dyn Storage> = match &settings.s3 {
        Some(s3) => Arc::new(S3Storage::new(s3.clone())),
        None => Arc::new(LocalStorage::new(data.buckets())),
    };
    let buckets: Arc<dyn Buckets> = match &settings.s3 {
        Some(_) => Arc::new(StorageBuckets(storage.clone())),
        None => Arc::new(LocalBuckets::new(data.buckets())),
    };
    let keys = Arc::new(
        KeyRing::open(&data.signing_keys(), &settings.regions, chrono::Utc::now())
            .context("loading signing keys")?,
    );
    let (stop_delivery, delivery_stopped) = tokio::sync::watch::channel(false);
    let delivery = Delivery::new(
        store.clone(),
        storage,
        DeliveryConfig {
            interval: settings.delivery_interval,
            org_id: settings.organization_id.clone(),
            keys: Some(keys.clone()),
            regions: settings.regions.clone(),
            digest_interval: chrono::Duration::from_std(settings.digest_interval)
                .context("digest interval")?,
        },
    );
    let delivery_task = tokio::spawn(delivery.run(delivery_stopped));
    let state = AppState::new(store, credentials, config, buckets, keys);
    let tls = match &settings.tls {
        Some((cert, key)) => Some(crate::tls::acceptor(cert, key)?),
        None => None,
    };
    // The console's explicit /console routes take priority over the S3 API's wildcards.
    let console = cairn_console::Console::new(state.clone(), tls.is_some());
    let app = cairn_api::router(state).merge(cairn_console::routes(console));

    let listener = tokio::net::TcpListener::bind(settings.listen)
        .await
        .with_context(|| format!("listening on {}", settings.listen))?;
    let addr = listener.local_addr()?;
    let scheme = if tls.is_some() { "https" } else { "http" };
    let endpoint = format!("{scheme}://{addr}");
    tracing::info!(%endpoint, data_dir = %data.root().display(), account_id = %account_id, region = %settings.region, "cairn is serving");
    if let Some(admin) = generated {
        print_first_start_banner(&admin, &endpoint, &settings.region, &data);
    }
    // Tests and scripts read this line to find the port when listening on port 0.
    println!("Listening on {endpoint}");

    crate::server::serve(listener, tls, app, shutdown_signal()).await;
    let _ = stop_delivery.send(true);
    let _ = delivery_task.await;
    tracing::info!("cairn stopped");
    Ok(())
}

/// Shown once, when the admin key is generated: the only time the secret is printed.
fn print_first_start_banner(admin: &UserKey, endpoint: &str, region: &str, data: &DataDir) {
    println!(
        "\nCairn created an admin access key (kept in {}, mode 0600). It is shown only now:\n\n\
         \x20 export AWS_ACCESS_KEY_ID={}\n\
         \x20 export AWS_SECRET_ACCESS_KEY={}\n\
         \x20 export AWS_DEFAULT_REGION={region}\n\
         \x20 aws --endpoint-url {endpoint} cloudtrail describe-trails\n",
        data.credentials().display(),
        admin.access_key_id,
        admin.secret_access_key.expose(),
    );
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = term => {},
    }
    tracing::info!("shutting down: no new connections; finishing requests in flight");
}

/// Trails' buckets checked in the configured S3-compatible store.
struct StorageBuckets(Arc<dyn Storage>);

#[async_trait::async_trait]
impl Buckets for StorageBuckets {
    async fn exists(&self, name: &str) -> Result<bool, String> {
        self.0.bucket_exists(name).await.map_err(|e| e.to_string())
    }
}
