//! Shared application state.

use std::{
    sync::{
        Arc,
        atomic::{AtomicBool, Ordering},
    },
    time::Duration,
};

use switchyard_config::{PlatformConfig, ServerConfig};
use switchyard_platform::{Platform, SystemClock};
use switchyard_router::Router;
use switchyard_store::Store;
use tokio_util::task::TaskTracker;

use crate::{auth::KeyCache, ids, metrics::Metrics};

/// Settings of the HTTP edge.
#[derive(Debug, Clone, PartialEq)]
pub struct HttpSettings {
    /// Largest accepted request body; larger ones get 413.
    pub max_body_bytes: usize,
    /// How long running requests may finish after a shutdown signal.
    pub shutdown_grace: Duration,
    /// How long a successful key lookup is trusted without asking the store.
    /// A disabled or deleted key is refused at most this long after the change.
    pub key_cache_ttl: Duration,
    /// `system_fingerprint` in responses.
    pub system_fingerprint: String,
}

impl Default for HttpSettings {
    fn default() -> Self {
        HttpSettings {
            max_body_bytes: 32 * 1024 * 1024,
            shutdown_grace: Duration::from_secs(30),
            key_cache_ttl: Duration::from_secs(2),
            system_fingerprint: ids::default_system_fingerprint(),
        }
    }
}

impl HttpSettings {
    pub fn from_config(server: &ServerConfig) -> Self {
        HttpSettings {
            max_body_bytes: server.max_body_bytes,
            shutdown_grace: server.shutdown_grace,
            ..HttpSettings::default()
        }
    }
}

/// Everything handlers need. Cheap to clone.
#[derive(Clone)]
pub struct AppState {
    inner: Arc<Inner>,
}

struct Inner {
    router: Arc<Router>,
    store: Store,
    platform: Platform,
    settings: HttpSettings,
    metrics: Metrics,
    keys: KeyCache,
    /// Usage-recording tasks; drained on shutdown so no ledger row is lost.
    tasks: TaskTracker,
    /// Set when the shutdown grace ran out and connections are being cut.
    aborting: AtomicBool,
}

impl AppState {
    /// State with the default platform policy on the system clock.
    pub fn new(router: Arc<Router>, store: Store, settings: HttpSettings) -> Self {
        let platform = Platform::new(store, PlatformConfig::default(), Arc::new(SystemClock));
        Self::with_platform(router, platform, settings)
    }

    pub fn with_platform(router: Arc<Router>, platform: Platform, settings: HttpSettings) -> Self {
        AppState {
            inner: Arc::new(Inner {
                keys: KeyCache::new(settings.key_cache_ttl),
                router,
                store: platform.store().clone(),
                platform,
                settings,
                metrics: Metrics::new(),
                tasks: TaskTracker::new(),
                aborting: AtomicBool::new(false),
            }),
        }
    }

    pub fn router(&self) -> &Router {
        &self.inner.router
    }

    pub fn store(&self) -> &Store {
        &self.inner.store
    }

    pub fn platform(&self) -> &Platform {
        &self.inner.platform
    }

    pub fn settings(&self) -> &HttpSettings {
        &self.inner.settings
    }

    pub fn metrics(&self) -> &Metrics {
        &self.inner.metrics
    }

    pub(crate) fn keys(&self) -> &KeyCache {
        &self.inner.keys
    }

    /// Forgets the cached authentication of one key (changed through this process).
    pub(crate) fn forget_key(&self, account_id: &str, prefix: &str) {
        self.inner
            .keys
            .forget(|k| k.account_id == account_id && k.prefix == prefix);
    }

    /// Forgets the cached authentication of every key of an account.
    pub(crate) fn forget_account(&self, account_id: &str) {
        self.inner.keys.forget(|k| k.account_id == account_id);
    }

    /// Tracker of background usage-recording tasks.
    pub fn tasks(&self) -> &TaskTracker {
        &self.inner.tasks
    }

    pub(crate) fn set_aborting(&self) {
        self.inner.aborting.store(true, Ordering::Relaxed);
    }

    /// Whether in-flight requests are being cut because the shutdown grace ran out.
    pub(crate) fn aborting(&self) -> bool {
        self.inner.aborting.load(Ordering::Relaxed)
    }

    /// Waits until every usage row handed off so far is written.
    pub async fn drain(&self) {
        self.inner.tasks.close();
        self.inner.tasks.wait().await;
        // Allow later requests (e.g. in tests that keep using the state) to be tracked again.
        self.inner.tasks.reopen();
    }
}
