//! Settings of one OpenAI-compatible provider (built by the config crate).

use std::{fmt, time::Duration};

/// Connect, first-byte and idle timeouts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timeouts {
    /// TCP + TLS connect. Default 10 s.
    pub connect: Duration,
    /// From sending the request to the response headers and again to the
    /// first body chunk. Default 60 s.
    pub first_byte: Duration,
    /// Longest silence between two stream chunks. Default 60 s.
    pub idle: Duration,
}

impl Default for Timeouts {
    fn default() -> Self {
        Timeouts {
            connect: Duration::from_secs(10),
            first_byte: Duration::from_secs(60),
            idle: Duration::from_secs(60),
        }
    }
}

/// Retries before the first byte (connect errors, 429, 5xx only).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Attempts after the first one. Default 2.
    pub max_retries: u32,
    /// Backoff before retry k (0-based) is about `base * 2^k` with jitter. Default 250 ms.
    pub base_delay: Duration,
    /// Upper bound of any wait, including an upstream `retry-after`. Default 4 s.
    pub max_delay: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            max_retries: 2,
            base_delay: Duration::from_millis(250),
            max_delay: Duration::from_secs(4),
        }
    }
}

/// Everything [`crate::OpenAiProvider`] needs to talk to one upstream.
#[derive(Clone, PartialEq)]
pub struct ProviderSettings {
    /// Short name for logs, metrics, the ledger and error messages (e.g. `xai`).
    pub name: String,
    /// Base URL including the version prefix, e.g. `https://api.x.ai/v1`.
    pub base_url: String,
    /// The secret, if one was configured. Never logged (`Debug` redacts it).
    pub api_key: Option<String>,
    /// The environment variable the key is (or would be) read from, for error messages.
    pub api_key_env: Option<String>,
    /// Whether requests need a key. `false` for keyless local upstreams
    /// (e.g. vLLM or SGLang started without `--api-key`). Default `true`.
    pub requires_api_key: bool,
    /// Extra headers sent with every request (e.g. OpenRouter's `HTTP-Referer`).
    pub headers: Vec<(String, String)>,
    pub timeouts: Timeouts,
    pub retry: RetryPolicy,
}

impl ProviderSettings {
    /// Settings with the defaults above and no key.
    pub fn new(name: impl Into<String>, base_url: impl Into<String>) -> Self {
        ProviderSettings {
            name: name.into(),
            base_url: base_url.into(),
            api_key: None,
            api_key_env: None,
            requires_api_key: true,
            headers: Vec::new(),
            timeouts: Timeouts::default(),
            retry: RetryPolicy::default(),
        }
    }
}

impl fmt::Debug for ProviderSettings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ProviderSettings")
            .field("name", &self.name)
            .field("base_url", &self.base_url)
            .field("api_key", &self.api_key.as_ref().map(|_| "<redacted>"))
            .field("api_key_env", &self.api_key_env)
            .field("requires_api_key", &self.requires_api_key)
            .field(
                "headers",
                &self.headers.iter().map(|(k, _)| k).collect::<Vec<_>>(),
            )
            .field("timeouts", &self.timeouts)
            .field("retry", &self.retry)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_never_shows_secrets() {
        let mut s = ProviderSettings::new("xai", "https://api.x.ai/v1");
        s.api_key = Some("xai-supersecret".into());
        s.headers
            .push(("x-secret".into(), "hdr-secret-value".into()));
        let text = format!("{s:?}");
        assert!(!text.contains("supersecret"), "{text}");
        assert!(!text.contains("hdr-secret-value"), "{text}");
        assert!(text.contains("<redacted>"));
    }
}
