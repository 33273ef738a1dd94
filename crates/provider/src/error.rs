//! Errors building a provider from its settings.

/// A provider's settings cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProviderError {
    #[error("provider '{provider}': base_url '{url}' is not a valid http(s) URL")]
    InvalidBaseUrl { provider: String, url: String },
    #[error("provider '{provider}': header '{name}' is not a valid HTTP header name or value")]
    InvalidHeader { provider: String, name: String },
    /// The key contains characters that cannot go into an HTTP header. The key itself is never shown.
    #[error("provider '{provider}': the API key contains characters not allowed in an HTTP header")]
    InvalidApiKey { provider: String },
    #[error("provider '{provider}': cannot build the HTTP client: {detail}")]
    Client { provider: String, detail: String },
}
