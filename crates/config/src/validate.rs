//! Cross-field checks that serde cannot express.

use std::collections::HashSet;

use crate::{ConfigError, ModelConfig, ProviderConfig, ProviderKind};

pub(crate) fn check(
    providers: &[(String, ProviderConfig)],
    models: &[(String, ModelConfig)],
    origin: &str,
) -> Result<(), ConfigError> {
    let find = |name: &str| providers.iter().map(|(_, p)| p).find(|p| p.name == name);
    let invalid = |key: String, problem: String| ConfigError::Invalid {
        origin: origin.to_string(),
        key,
        problem,
    };
    let mut names = HashSet::new();
    for (label, p) in providers {
        let key = |field: &str| format!("{label}.{field}");
        if p.name.trim().is_empty() {
            return Err(invalid(key("name"), "must not be empty".into()));
        }
        if !names.insert(p.name.as_str()) {
            return Err(invalid(
                key("name"),
                format!("provider `{}` is defined twice", p.name),
            ));
        }
        match p.kind {
            ProviderKind::Openai => {
                let Some(url) = &p.base_url else {
                    return Err(invalid(
                        key("base_url"),
                        "is required for kind = \"openai\"".into(),
                    ));
                };
                if !(url.starts_with("http://") || url.starts_with("https://")) {
                    return Err(invalid(
                        key("base_url"),
                        format!("`{url}` must start with http:// or https://"),
                    ));
                }
            }
            ProviderKind::Local => {}
        }
        for (field, v) in [
            ("connect_timeout_secs", p.connect_timeout_secs),
            ("first_byte_timeout_secs", p.first_byte_timeout_secs),
            ("idle_timeout_secs", p.idle_timeout_secs),
        ] {
            if !(v.is_finite() && v > 0.0 && v <= 86_400.0) {
                return Err(invalid(
                    key(field),
                    format!("{v} must be a number of seconds in (0, 86400]"),
                ));
            }
        }
        if p.max_retries > 10 {
            return Err(invalid(
                key("max_retries"),
                format!("{} is above the maximum of 10", p.max_retries),
            ));
        }
    }
    let mut ids = HashSet::new();
    for (label, m) in models {
        let key = |field: &str| format!("{label}.{field}");
        if m.id.trim().is_empty() {
            return Err(invalid(key("id"), "must not be empty".into()));
        }
        for name in std::iter::once(&m.id).chain(&m.aliases) {
            if !ids.insert(name.as_str()) {
                return Err(invalid(
                    key("id"),
                    format!("model id or alias `{name}` is used twice"),
                ));
            }
        }
        let provider = match find(&m.provider) {
            Some(p) => Some(p),
            None if m.provider == "local" => None,
            None => {
                return Err(invalid(
                    key("provider"),
                    format!("no [[providers]] entry is named `{}`", m.provider),
                ));
            }
        };
        let is_local = provider.is_none_or(|p| p.kind == ProviderKind::Local);
        if is_local && m.path.is_none() {
            return Err(invalid(
                key("path"),
                "local models need `path` to a .gguf file (or hf:REPO:FILE)".into(),
            ));
        }
        for (field, v) in [
            ("prompt", m.prices.prompt),
            ("completion", m.prices.completion),
        ]
        .into_iter()
        .chain(m.prices.cached_prompt.map(|c| ("cached_prompt", c)))
        {
            if !(v.is_finite() && v >= 0.0) {
                return Err(invalid(
                    key(&format!("prices.{field}")),
                    format!("{v} must be a non-negative number"),
                ));
            }
        }
        if m.context_length == Some(0) {
            return Err(invalid(key("context_length"), "must be at least 1".into()));
        }
        for (j, f) in m.fallbacks.iter().enumerate() {
            if find(&f.provider).is_none() {
                return Err(invalid(
                    key(&format!("fallbacks[{j}].provider")),
                    format!("no [[providers]] entry is named `{}`", f.provider),
                ));
            }
        }
    }
    Ok(())
}
