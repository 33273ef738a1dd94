//! The hub crate's error type.

use std::path::PathBuf;

/// Everything that can stop a pull; each message says what to do about it.
#[derive(Debug, thiserror::Error)]
pub enum HubError {
    #[error("invalid model reference {spec:?}: {reason}")]
    BadSpec { spec: String, reason: String },

    #[error(
        "access denied (HTTP {status}) to {url}: the repository is gated or private; \
         set HF_TOKEN to a token that has access (and accept the model's terms on its page)"
    )]
    Unauthorized { status: u16, url: String },

    #[error(
        "not found (HTTP 404): {url}: check the repository name, the file name and the revision"
    )]
    NotFound { url: String },

    #[error("the Hub answered HTTP {status} for {url}")]
    Http { status: u16, url: String },

    #[error("network error reaching {url}: {reason}")]
    Network { url: String, reason: String },

    #[error(
        "download interrupted after {done} bytes{of} ({reason}); the partial file {part} is kept: \
         run the same command again to resume",
        of = total.map(|t| format!(" of {t}")).unwrap_or_default()
    )]
    Interrupted {
        part: PathBuf,
        done: u64,
        total: Option<u64>,
        reason: String,
    },

    #[error(
        "checksum mismatch for {file}: the Hub announced SHA-256 {expected}, the download has {actual}; \
         the partial file was deleted, run the command again"
    )]
    ChecksumMismatch {
        file: String,
        expected: String,
        actual: String,
    },

    #[error("unexpected answer from {url}: {reason}")]
    BadResponse { url: String, reason: String },

    #[error("repository {repo} has no .gguf file")]
    NoGguf { repo: String },

    #[error(
        "repository {repo} has several .gguf files; choose one with `{repo}:FILE`:\n  {}",
        files.join("\n  ")
    )]
    SeveralGguf { repo: String, files: Vec<String> },

    #[error("offline (HF_HUB_OFFLINE) and {what} is not downloaded yet")]
    Offline { what: String },

    #[error("disk error on {path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },

    #[error("cannot build the HTTP client: {0}")]
    Client(String),
}

impl HubError {
    /// A network error, with the causes reqwest keeps in its source chain (e.g. "connection refused").
    pub(crate) fn network(url: impl ToString, e: &reqwest::Error) -> HubError {
        let mut reason = e.to_string();
        let mut cause = std::error::Error::source(e);
        while let Some(c) = cause {
            reason.push_str(": ");
            reason.push_str(&c.to_string());
            cause = c.source();
        }
        HubError::Network {
            url: url.to_string(),
            reason,
        }
    }

    pub(crate) fn io(path: impl Into<PathBuf>, source: std::io::Error) -> HubError {
        HubError::Io {
            path: path.into(),
            source,
        }
    }
}
