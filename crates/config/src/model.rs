//! `[[providers]]` and `[[models]]`.

use std::{collections::BTreeMap, path::PathBuf};

use serde::Deserialize;
use switchyard_core::{Capabilities, Prices};

/// How a provider is reached.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ProviderKind {
    /// Any OpenAI-compatible HTTP upstream (xAI, OpenAI, vLLM, SGLang, OpenRouter, llama.cpp-server…).
    Openai,
    /// Our own engine, serving GGUF files.
    Local,
}

/// `[[providers]]`
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProviderConfig {
    pub name: String,
    pub kind: ProviderKind,
    /// For `openai`: e.g. `https://api.x.ai/v1`.
    #[serde(default)]
    pub base_url: Option<String>,
    /// Environment variable holding the API key (preferred).
    #[serde(default)]
    pub api_key_env: Option<String>,
    /// A literal API key (discouraged: keep secrets out of files).
    #[serde(default)]
    pub api_key: Option<String>,
    /// Extra headers sent upstream (e.g. OpenRouter's `HTTP-Referer`).
    #[serde(default)]
    pub headers: BTreeMap<String, String>,
    #[serde(default = "d_connect")]
    pub connect_timeout_secs: f64,
    #[serde(default = "d_first_byte")]
    pub first_byte_timeout_secs: f64,
    #[serde(default = "d_idle")]
    pub idle_timeout_secs: f64,
    #[serde(default = "d_retries")]
    pub max_retries: u32,
}

fn d_connect() -> f64 {
    10.0
}
fn d_first_byte() -> f64 {
    60.0
}
fn d_idle() -> f64 {
    60.0
}
fn d_retries() -> u32 {
    2
}

impl ProviderConfig {
    /// The API key: literal `api_key`, else the variable named by `api_key_env`.
    pub fn resolve_api_key(&self, env: &dyn crate::Env) -> Option<String> {
        self.api_key
            .clone()
            .or_else(|| self.api_key_env.as_deref().and_then(|k| env.var(k)))
    }
}

/// Another provider to try when the primary fails before the first byte.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FallbackConfig {
    pub provider: String,
    /// Model name at that provider; defaults to the primary's `upstream_model`.
    #[serde(default)]
    pub upstream_model: Option<String>,
}

/// `[[models]]`: one catalogue entry.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ModelConfig {
    /// Public id, e.g. `x-ai/grok-beta`.
    pub id: String,
    #[serde(default)]
    pub aliases: Vec<String>,
    pub provider: String,
    /// Name at the provider; defaults to `id`.
    #[serde(default)]
    pub upstream_model: Option<String>,
    /// GGUF file for `local` models (or `hf:REPO:FILE`).
    #[serde(default)]
    pub path: Option<PathBuf>,
    #[serde(default)]
    pub context_length: Option<u32>,
    #[serde(default)]
    pub max_output: Option<u32>,
    /// USD per million tokens.
    pub prices: Prices,
    #[serde(default)]
    pub capabilities: Capabilities,
    #[serde(default)]
    pub fallbacks: Vec<FallbackConfig>,
    /// Display name; defaults to the id.
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub developer: Option<String>,
    #[serde(default)]
    pub description: Option<String>,
}

impl ModelConfig {
    pub fn upstream_model(&self) -> &str {
        self.upstream_model.as_deref().unwrap_or(&self.id)
    }
}

/// The built-in catalogue: xAI's grok-beta, as on the seed page.
pub(crate) fn builtin() -> (Vec<ProviderConfig>, Vec<ModelConfig>) {
    let xai = ProviderConfig {
        name: "xai".into(),
        kind: ProviderKind::Openai,
        base_url: Some("https://api.x.ai/v1".into()),
        api_key_env: Some("XAI_API_KEY".into()),
        api_key: None,
        headers: BTreeMap::new(),
        connect_timeout_secs: d_connect(),
        first_byte_timeout_secs: d_first_byte(),
        idle_timeout_secs: d_idle(),
        max_retries: d_retries(),
    };
    let grok = ModelConfig {
        id: "x-ai/grok-beta".into(),
        aliases: vec!["grok-beta".into()],
        provider: "xai".into(),
        upstream_model: Some("grok-beta".into()),
        path: None,
        context_length: Some(131_072),
        max_output: None,
        prices: Prices {
            prompt: 5.0,
            cached_prompt: Some(2.5),
            completion: 15.0,
        },
        capabilities: Capabilities {
            tools: true,
            json_mode: true,
            json_schema: true,
            ..Capabilities::default()
        },
        fallbacks: Vec::new(),
        name: Some("Grok Beta".into()),
        developer: Some("xAI".into()),
        description: Some(
            "xAI's conversational model for chat, coding assistance and reasoning tasks.".into(),
        ),
    };
    (vec![xai], vec![grok])
}
