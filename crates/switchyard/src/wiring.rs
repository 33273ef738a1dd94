//! Start-up wiring: config → backends → router → HTTP state.
//!
//! This is the one place that knows which concrete backend serves each
//! provider name (Architecture Invariant: the router only sees the trait).

use std::{collections::HashMap, path::PathBuf, sync::Arc, time::Duration};

use switchyard_config::{Config, Env, ProviderConfig, ProviderKind};
use switchyard_core::Backend;
use switchyard_local::{LoadOptions, LocalBackend, LocalModel};
use switchyard_provider::{OpenAiProvider, ProviderSettings, RetryPolicy, Timeouts};
use switchyard_router::Router;

use crate::cli::CliError;

/// Context length (from the GGUF) of each local model, by model id.
type LocalInfo = HashMap<String, u32>;
/// Backends by provider name.
type Backends = HashMap<String, Arc<dyn Backend>>;

/// Builds one backend per configured provider, loading the GGUF files of local models.
pub fn build_backends(config: &Config, env: &dyn Env) -> Result<(Backends, LocalInfo), CliError> {
    let mut backends = Backends::new();
    for p in &config.providers {
        if p.kind == ProviderKind::Openai {
            let backend = OpenAiProvider::new(provider_settings(p, env))
                .map_err(|e| CliError::Runtime(format!("provider `{}`: {e}", p.name)))?;
            backends.insert(p.name.clone(), Arc::new(backend));
        }
    }
    // Local providers: the declared ones, plus the implicit `local`.
    let is_local = |name: &str| match config.provider(name) {
        Some(p) => p.kind == ProviderKind::Local,
        None => name == "local",
    };
    let mut locals: HashMap<String, LocalBackend> = HashMap::new();
    for p in config
        .providers
        .iter()
        .filter(|p| p.kind == ProviderKind::Local)
    {
        locals.insert(p.name.clone(), LocalBackend::new(p.name.clone()));
    }
    let mut info = LocalInfo::new();
    let mut loaded: HashMap<PathBuf, Arc<LocalModel>> = HashMap::new();
    for m in config.models.iter().filter(|m| is_local(&m.provider)) {
        let Some(path) = &m.path else {
            return Err(CliError::Usage(format!(
                "model `{}`: local models need `path` to a .gguf file",
                m.id
            )));
        };
        if path.to_string_lossy().starts_with("hf:") {
            return Err(CliError::Usage(format!(
                "model `{}`: `{}`: download the file first and give its local path",
                m.id,
                path.display()
            )));
        }
        let lm = match loaded.get(path) {
            Some(lm) => lm.clone(),
            None => {
                tracing::info!(model = %m.id, path = %path.display(), "loading GGUF model");
                let lm = Arc::new(
                    LocalModel::load(path, &LoadOptions::default())
                        .map_err(|e| CliError::Runtime(format!("model `{}`: {e}", m.id)))?,
                );
                loaded.insert(path.clone(), lm.clone());
                lm
            }
        };
        info.insert(
            m.id.clone(),
            u32::try_from(lm.context_length()).unwrap_or(u32::MAX),
        );
        let backend = locals
            .entry(m.provider.clone())
            .or_insert_with(|| LocalBackend::new(m.provider.clone()));
        match backend.model(m.upstream_model()) {
            Some(existing) if Arc::ptr_eq(existing, &lm) => {}
            _ => backend
                .insert(m.upstream_model(), lm)
                .map_err(|e| CliError::Usage(format!("model `{}`: {e}", m.id)))?,
        }
    }
    for (name, b) in locals {
        backends.insert(name, Arc::new(b));
    }
    Ok((backends, info))
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

/// The router for a config. Local models get their context length from the GGUF (or the
/// smaller configured one) and the local engine's capabilities.
pub fn build_router(config: &Config, env: &dyn Env) -> Result<Router, CliError> {
    let (backends, info) = build_backends(config, env)?;
    let mut config = config.clone();
    for m in &mut config.models {
        if let Some(&ctx) = info.get(&m.id) {
            m.context_length = Some(m.context_length.map_or(ctx, |c| c.min(ctx)));
            m.capabilities = LocalModel::capabilities();
        }
    }
    Router::from_config(&config, backends).map_err(|e| CliError::Usage(format!("catalogue: {e}")))
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

    #[test]
    fn local_models_load_with_engine_capabilities_and_gguf_context() {
        let dir = std::env::temp_dir().join(format!("switchyard-wiring-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let gguf = dir.join("tiny.gguf");
        let vocab = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../../../shared/vocab/ggml-vocab-qwen2.gguf");
        let spec =
            switchyard_local::fixture::FixtureSpec::tiny("qwen2", switchyard_gguf::GgmlType::Q8_0);
        switchyard_local::fixture::write_fixture(&spec, &vocab, &gguf).unwrap();
        let text = format!(
            "[[models]]\nid = \"tiny\"\nprovider = \"local\"\npath = {:?}\nprices = {{ prompt = 0, completion = 0 }}\n",
            gguf.to_str().unwrap()
        );
        let mut cfg = Config::from_toml(&text, "t", &[("A", "b")], &Overrides::default()).unwrap();
        cfg.add_local_model("tiny2", gguf.clone(), None).unwrap();
        assert!(
            cfg.add_local_model("tiny", gguf.clone(), None).is_err(),
            "duplicate id"
        );
        let router = build_router(&cfg, &[("A", "b")]).unwrap();
        for id in ["tiny", "tiny2"] {
            let m = router.resolve(id).unwrap();
            assert_eq!(m.provider(), "local");
            assert_eq!(m.context_length, Some(spec.n_ctx as u32));
            assert!(!m.capabilities.tools);
            assert_eq!(m.capabilities.max_n, 8);
        }
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn missing_local_file_is_a_clear_error() {
        let text = "[[models]]\nid = \"m\"\nprovider = \"local\"\npath = \"/nonexistent/x.gguf\"\nprices = { prompt = 0, completion = 0 }\n";
        let cfg = Config::from_toml(text, "t", &[("A", "b")], &Overrides::default()).unwrap();
        let err = build_router(&cfg, &[("A", "b")]).err().unwrap().to_string();
        assert!(
            err.contains("/nonexistent/x.gguf") && err.contains("`m`"),
            "{err}"
        );
    }
}
