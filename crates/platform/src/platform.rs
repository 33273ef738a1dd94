//! The [`Platform`] handle: the store, the clock and the policy.

use std::sync::Arc;

use switchyard_config::PlatformConfig;
use switchyard_store::Store;

use crate::Clock;

/// Cheap to clone; share one per process.
#[derive(Debug, Clone)]
pub struct Platform {
    pub(crate) store: Store,
    pub(crate) clock: Arc<dyn Clock>,
    pub(crate) config: PlatformConfig,
}

impl Platform {
    pub fn new(store: Store, config: PlatformConfig, clock: Arc<dyn Clock>) -> Self {
        Platform {
            store,
            clock,
            config,
        }
    }

    pub fn store(&self) -> &Store {
        &self.store
    }

    pub fn config(&self) -> &PlatformConfig {
        &self.config
    }

    /// Now, by the injected clock (unix ms).
    pub fn now_ms(&self) -> i64 {
        self.clock.now_ms()
    }
}
