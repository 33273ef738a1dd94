//! Catalogue entries.

use switchyard_config::ModelConfig;
use switchyard_core::{Capabilities, ModelTarget, Prices};

/// A provider and the model's name there.
#[derive(Debug, Clone, PartialEq)]
pub struct Route {
    pub provider: String,
    pub upstream_model: String,
}

/// One model of the catalogue.
#[derive(Debug, Clone, PartialEq)]
pub struct CatalogueModel {
    pub id: String,
    pub aliases: Vec<String>,
    pub primary: Route,
    pub fallbacks: Vec<Route>,
    pub context_length: Option<u32>,
    pub max_output: Option<u32>,
    pub prices: Prices,
    pub capabilities: Capabilities,
    pub name: String,
    pub developer: String,
    pub description: String,
}

impl CatalogueModel {
    pub fn provider(&self) -> &str {
        &self.primary.provider
    }

    pub(crate) fn target(&self, route: &Route) -> ModelTarget {
        ModelTarget {
            model_id: self.id.clone(),
            upstream_model: route.upstream_model.clone(),
            context_length: self.context_length,
            capabilities: self.capabilities.clone(),
        }
    }
}

impl From<&ModelConfig> for CatalogueModel {
    fn from(m: &ModelConfig) -> Self {
        let upstream = m.upstream_model().to_owned();
        CatalogueModel {
            id: m.id.clone(),
            aliases: m.aliases.clone(),
            primary: Route {
                provider: m.provider.clone(),
                upstream_model: upstream.clone(),
            },
            fallbacks: m
                .fallbacks
                .iter()
                .map(|f| Route {
                    provider: f.provider.clone(),
                    upstream_model: f.upstream_model.clone().unwrap_or_else(|| upstream.clone()),
                })
                .collect(),
            context_length: m.context_length,
            max_output: m.max_output,
            prices: m.prices,
            capabilities: m.capabilities.clone(),
            name: m.name.clone().unwrap_or_else(|| m.id.clone()),
            developer: m.developer.clone().unwrap_or_else(|| m.provider.clone()),
            description: m.description.clone().unwrap_or_default(),
        }
    }
}
