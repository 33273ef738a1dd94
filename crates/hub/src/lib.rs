//! Downloads GGUF files from the Hugging Face Hub.
//!
//! `pull` fetches `{endpoint}/{repo}/resolve/{revision}/{file}` (following the Hub's redirect to its
//! CDN) into `{data_dir}/models/{owner--name}/{file}`:
//! - the bytes go to `{dest}.part` first; an interrupted download resumes from it with `Range`;
//! - the SHA-256 the Hub announces for LFS files (`X-Linked-Etag`, else `ETag`) is checked over the
//!   whole file; a mismatch deletes the part file;
//! - the verified file is renamed into place, so `dest` only ever holds a complete, checked file.
//!
//! Environment (read by [`HubSettings::from_env`]): `HF_ENDPOINT`, `HF_TOKEN` (sent as
//! `Authorization: Bearer` to the endpoint only, never to the CDN), `HF_HUB_OFFLINE`.

mod download;
mod error;
mod progress;
mod spec;

use std::path::{Path, PathBuf};

pub use error::HubError;
pub use spec::{DEFAULT_REVISION, HF_PREFIX, HubSpec};

/// The public Hub.
pub const DEFAULT_ENDPOINT: &str = "https://huggingface.co";

/// How to reach the Hub and where files go.
#[derive(Clone)]
pub struct HubSettings {
    /// Base URL, `https://huggingface.co` by default (no trailing slash needed).
    pub endpoint: String,
    /// Access token for gated or private repositories.
    pub token: Option<String>,
    /// Data directory; files land under `{data_dir}/models/`.
    pub data_dir: PathBuf,
    /// Draw a progress bar on stderr (only when stderr is a terminal).
    pub progress: bool,
    /// Never touch the network: use files already downloaded, or fail.
    pub offline: bool,
}

impl std::fmt::Debug for HubSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HubSettings")
            .field("endpoint", &self.endpoint)
            .field("token", &self.token.as_ref().map(|_| "<redacted>"))
            .field("data_dir", &self.data_dir)
            .field("progress", &self.progress)
            .field("offline", &self.offline)
            .finish()
    }
}

impl HubSettings {
    /// Defaults: the public Hub, no token, no progress bar, online.
    pub fn new(data_dir: impl Into<PathBuf>) -> HubSettings {
        HubSettings {
            endpoint: DEFAULT_ENDPOINT.to_string(),
            token: None,
            data_dir: data_dir.into(),
            progress: false,
            offline: false,
        }
    }

    /// Defaults overridden by `HF_ENDPOINT`, `HF_TOKEN` (or the older `HUGGING_FACE_HUB_TOKEN`)
    /// and `HF_HUB_OFFLINE=1`. `env` looks a variable up (e.g. `|k| std::env::var(k).ok()`).
    pub fn from_env(
        data_dir: impl Into<PathBuf>,
        env: impl Fn(&str) -> Option<String>,
    ) -> HubSettings {
        let mut s = HubSettings::new(data_dir);
        let non_empty = |k: &str| env(k).filter(|v| !v.trim().is_empty());
        if let Some(e) = non_empty("HF_ENDPOINT") {
            s.endpoint = e.trim().to_string();
        }
        s.token = non_empty("HF_TOKEN")
            .or_else(|| non_empty("HUGGING_FACE_HUB_TOKEN"))
            .map(|t| t.trim().to_string());
        s.offline = non_empty("HF_HUB_OFFLINE").is_some_and(|v| {
            matches!(v.trim().to_ascii_lowercase().as_str(), "1" | "true" | "yes")
        });
        s
    }

    fn endpoint_base(&self) -> &str {
        self.endpoint.trim_end_matches('/')
    }
}

/// Downloads (or finds, already verified) the file `spec` names and returns its local path.
pub async fn pull(spec: &HubSpec, settings: &HubSettings) -> Result<PathBuf, HubError> {
    download::pull(spec, settings).await
}

/// A model path from config or the command line: `hf:REPO[:FILE]` is pulled (or found already
/// downloaded) and its local path returned; anything else is a local path, returned unchanged.
pub async fn resolve_model_path(
    path_or_hf: &str,
    settings: &HubSettings,
) -> Result<PathBuf, HubError> {
    match HubSpec::parse_hf_uri(path_or_hf) {
        Some(spec) => pull(&spec?, settings).await,
        None => Ok(Path::new(path_or_hf).to_path_buf()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn settings_from_env() {
        let env = |k: &str| match k {
            "HF_ENDPOINT" => Some("http://mirror.example/".to_string()),
            "HUGGING_FACE_HUB_TOKEN" => Some("hf_old".to_string()),
            "HF_HUB_OFFLINE" => Some("1".to_string()),
            _ => None,
        };
        let s = HubSettings::from_env("/d", env);
        assert_eq!(s.endpoint_base(), "http://mirror.example");
        assert_eq!(s.token.as_deref(), Some("hf_old"));
        assert!(s.offline);
        assert!(!format!("{s:?}").contains("hf_old"));

        let s = HubSettings::from_env("/d", |k| (k == "HF_TOKEN").then(|| "hf_new".to_string()));
        assert_eq!(s.endpoint, DEFAULT_ENDPOINT);
        assert_eq!(s.token.as_deref(), Some("hf_new"));
        assert!(!s.offline);
    }

    #[tokio::test]
    async fn local_paths_pass_through() {
        let s = HubSettings::new("/nonexistent");
        let p = resolve_model_path("models/x.gguf", &s).await.unwrap();
        assert_eq!(p, Path::new("models/x.gguf"));
        let e = resolve_model_path("hf:../x", &s).await;
        assert!(matches!(e, Err(HubError::BadSpec { .. })), "{e:?}");
    }
}
