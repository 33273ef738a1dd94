//! Start-up wiring: config → backends → router → HTTP state.
//!
//! This is the one place that knows which concrete backend serves each
//! provider name (Architecture Invariant: the router only sees the trait).

use std::{collections::HashMap, sync::Arc, time::Duration};

use switchyard_config::{Config, Env, ProviderConfig, ProviderKind};
use switchyard_core::Backend;
use switchyard_provider::{OpenAiProvider, ProviderSettings, RetryPolicy, Timeouts};
use switchyard_router::Router;

use crate::cli::CliError;

/// Builds one backend per configured provider.
pub fn build_backends(
    config: &Config,
    env: &dyn Env,
) -> Result<HashMap<String, Arc<dyn Backend>>, CliError> {
    let mut backends: HashMap<String, Arc<dyn Backend>> = HashMap::new();
    for p in &config.providers {
        let backend: Arc<dyn Backend> = match p.kind {
            ProviderKind::Openai => Arc::new(
                OpenAiProvider::new(provider_settings(p, env))
                    .map_err(|e| CliError::Runtime(format!("provider `{}`: {e}", p.name)))?,
            ),
            ProviderKind::Local => return Err(local_unavailable(&p.name)),
        };
        backends.insert(p.name.clone(), backend);
    }
    if let Some(m) = config
        .models
        .iter()
        .find(|m| m.provider == "local" && config.provider("local").is_none())
    {
        return Err(local_unavailable(&m.id));
    }
    Ok(backends)
}

fn local_unavailable(what: &str) -> CliError {
    CliError::Usage(format!(
        "`{what}` needs the local GGUF engine, which this build cannot serve yet; route it to an OpenAI-compatible provider"
    ))
}

/// Maps a `[[providers]]` entry to the provider crate's settings.
pub fn provider_settings(p: &ProviderConfig, env: &dyn Env) -> ProviderSettings {
    let mut s = ProviderSettings::new(p.name.clone(), p.base_url.clone().unwrap_or_default());
    s.api_key = p.resolve_api_key(env);
    s.api_key_env = p.api_key_env.clone();
    // A provider configured with neither a key nor a variable is a keyless fleet (vLLM, SGLang…).
    s.requires_api_key = p.api_key.is_some() || p.api_key_env.is_some();
    s.headers = p
        .headers
        .iter()
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    s.timeouts = Timeouts {
        connect: Duration::from_secs_f64(p.connect_timeout_secs),
        first_byte: Duration::from_secs_f64(p.first_byte_timeout_secs),
        idle: Duration::from_secs_f64(p.idle_timeout_secs),
    };
    s.retry = RetryPolicy {
        max_retries: p.max_retries,
        ..RetryPolicy::default()
    };
    s
}

/// The router for a config.
pub fn build_router(config: &Config, env: &dyn Env) -> Result<Router, CliError> {
    Router::from_config(config, build_backends(config, env)?)
        .map_err(|e| CliError::Usage(format!("catalogue: {e}")))
}

#[cfg(test)]
mod tests {
    use switchyard_config::Overrides;

    use super::*;

    #[test]
    fn builtin_config_wires_xai_with_key_from_env() {
        let env = [("XAI_API_KEY", "xai-test")];
        let cfg = Config::from_toml("", "t", &env, &Overrides::default()).unwrap();
        let s = provider_settings(cfg.provider("xai").unwrap(), &env);
        assert_eq!(s.api_key.as_deref(), Some("xai-test"));
        assert_eq!(s.api_key_env.as_deref(), Some("XAI_API_KEY"));
        assert!(s.requires_api_key);
        let router = build_router(&cfg, &env).unwrap();
        assert_eq!(router.resolve("x-ai/grok-beta").unwrap().provider(), "xai");
    }

    #[test]
    fn keyless_provider_does_not_require_a_key() {
        let text = "[[providers]]\nname = \"vllm\"\nkind = \"openai\"\nbase_url = \"http://127.0.0.1:9/v1\"\nidle_timeout_secs = 0.5\n";
        let cfg = Config::from_toml(text, "t", &[("A", "b")], &Overrides::default()).unwrap();
        let s = provider_settings(cfg.provider("vllm").unwrap(), &[("A", "b")]);
        assert!(!s.requires_api_key);
        assert_eq!(s.timeouts.idle, Duration::from_millis(500));
    }
}
