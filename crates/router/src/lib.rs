//! The model catalogue and the router: a public model id (or alias) resolves
//! to a catalogue entry, the request is checked against the model's
//! capabilities, and it goes to the entry's backend, then to its fallbacks if
//! the backend fails before the first byte.
//!
//! Architecture Invariant: the router knows backends only through the
//! `switchyard_core::Backend` trait; which concrete backend serves a provider
//! name is decided once, at start-up, by the binary.

mod catalogue;

use std::{collections::HashMap, sync::Arc};

pub use catalogue::{CatalogueModel, Route};
use switchyard_config::Config;
use switchyard_core::{Backend, BackendError, ChatRequest, EventStream, Prices, Unsupported};

#[derive(Debug, Clone, thiserror::Error, PartialEq)]
pub enum RouteError {
    /// No catalogue entry has this id or alias. Maps to 404 `model_not_found`.
    #[error("The model `{0}` does not exist or you do not have access to it.")]
    UnknownModel(String),
    /// The model cannot honour a parameter. Maps to 400 naming it.
    #[error(transparent)]
    Unsupported(#[from] Unsupported),
    /// The backend (and every fallback) failed.
    #[error(transparent)]
    Backend(#[from] BackendError),
    /// Catalogue/backends mismatch found at start-up.
    #[error("model `{model}` uses provider `{provider}`, which has no backend")]
    MissingBackend { model: String, provider: String },
}

/// A started completion, with what the HTTP layer needs for accounting.
pub struct Routed {
    /// Public model id (aliases resolved).
    pub model_id: String,
    /// The provider that is actually serving (after any fallback).
    pub provider: String,
    pub prices: Prices,
    pub stream: EventStream,
}

impl std::fmt::Debug for Routed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Routed")
            .field("model_id", &self.model_id)
            .field("provider", &self.provider)
            .finish()
    }
}

/// Routes requests to backends.
pub struct Router {
    models: Vec<CatalogueModel>,
    /// id or alias -> index into `models`
    index: HashMap<String, usize>,
    backends: HashMap<String, Arc<dyn Backend>>,
}

impl Router {
    /// Builds a router; every provider named by a model (or a fallback) must have a backend.
    pub fn new(
        models: Vec<CatalogueModel>,
        backends: HashMap<String, Arc<dyn Backend>>,
    ) -> Result<Router, RouteError> {
        let mut index = HashMap::new();
        for (i, m) in models.iter().enumerate() {
            for route in std::iter::once(&m.primary).chain(&m.fallbacks) {
                if !backends.contains_key(&route.provider) {
                    return Err(RouteError::MissingBackend {
                        model: m.id.clone(),
                        provider: route.provider.clone(),
                    });
                }
            }
            for name in std::iter::once(&m.id).chain(&m.aliases) {
                index.insert(name.clone(), i);
            }
        }
        Ok(Router {
            models,
            index,
            backends,
        })
    }

    /// Builds the catalogue from config; `backends` maps provider names to backends.
    pub fn from_config(
        config: &Config,
        backends: HashMap<String, Arc<dyn Backend>>,
    ) -> Result<Router, RouteError> {
        Router::new(
            config.models.iter().map(CatalogueModel::from).collect(),
            backends,
        )
    }

    /// The catalogue, in configuration order.
    pub fn models(&self) -> &[CatalogueModel] {
        &self.models
    }

    /// Finds a model by id or alias.
    pub fn resolve(&self, model: &str) -> Result<&CatalogueModel, RouteError> {
        self.index
            .get(model)
            .and_then(|&i| self.models.get(i))
            .ok_or_else(|| RouteError::UnknownModel(model.to_owned()))
    }

    /// Checks the request against the model and starts it on the first
    /// backend that accepts it. Falls back only on failures before the first
    /// byte that are not the caller's fault.
    pub async fn chat(&self, req: &ChatRequest) -> Result<Routed, RouteError> {
        let model = self.resolve(&req.model)?;
        model.capabilities.check(&model.id, req)?;
        let mut last_err = None;
        for route in std::iter::once(&model.primary).chain(&model.fallbacks) {
            let Some(backend) = self.backends.get(&route.provider) else {
                continue;
            };
            let target = model.target(route);
            match backend.chat(&target, req).await {
                Ok(stream) => {
                    return Ok(Routed {
                        model_id: model.id.clone(),
                        provider: route.provider.clone(),
                        prices: model.prices,
                        stream,
                    });
                }
                Err(e) if e.is_retryable() || matches!(e, BackendError::NotConfigured { .. }) => {
                    tracing::warn!(model = %model.id, provider = %route.provider, error = %e, "backend failed before first byte");
                    last_err = Some(e);
                }
                Err(e) => return Err(e.into()),
            }
        }
        Err(last_err
            .unwrap_or_else(|| BackendError::Internal {
                detail: format!("model {} has no usable route", model.id),
            })
            .into())
    }
}

#[cfg(test)]
mod tests;
