//! [`OpenAiProvider`]: the [`Backend`] for any OpenAI-compatible upstream.

use std::time::Duration;

use bytes::Bytes;
use reqwest::{
    StatusCode, Url,
    header::{self, HeaderMap, HeaderName, HeaderValue},
};
use serde_json::Value;
use switchyard_core::{Backend, BackendError, ChatRequest, EventStream, ModelTarget};
use tokio::time::Instant;

use crate::{
    ProviderError, ProviderSettings, backoff,
    stream::{self, StreamContext},
    wire,
};

/// Most bytes of an upstream error body we read.
const MAX_ERROR_BODY: usize = 64 << 10;
/// Most characters of an upstream error message we keep.
const MAX_ERROR_MESSAGE: usize = 500;

/// A remote OpenAI-compatible provider (xAI, OpenAI, vLLM, SGLang, OpenRouter, …).
#[derive(Debug)]
pub struct OpenAiProvider {
    settings: ProviderSettings,
    client: reqwest::Client,
    url: Url,
    /// `Bearer <key>`, marked sensitive; `None` when no key is configured.
    auth: Option<HeaderValue>,
}

/// Why one attempt failed, and whether another may succeed.
struct Failure {
    error: BackendError,
    retryable: bool,
    retry_after: Option<Duration>,
}

impl Failure {
    fn fatal(error: BackendError) -> Self {
        Failure {
            error,
            retryable: false,
            retry_after: None,
        }
    }
}

impl OpenAiProvider {
    /// Validates the settings and builds the HTTP client. A missing API key is
    /// not an error here: requests then fail with `NotConfigured`, so the rest
    /// of the catalogue keeps working.
    pub fn new(settings: ProviderSettings) -> Result<Self, ProviderError> {
        let provider = settings.name.clone();
        let base = settings.base_url.trim_end_matches('/');
        let url = Url::parse(&format!("{base}/chat/completions"))
            .ok()
            .filter(|u| matches!(u.scheme(), "http" | "https"))
            .ok_or_else(|| ProviderError::InvalidBaseUrl {
                provider: provider.clone(),
                url: settings.base_url.clone(),
            })?;
        let mut headers = HeaderMap::new();
        for (name, value) in &settings.headers {
            let invalid = || ProviderError::InvalidHeader {
                provider: provider.clone(),
                name: name.clone(),
            };
            let n = HeaderName::from_bytes(name.as_bytes()).map_err(|_| invalid())?;
            let mut v = HeaderValue::from_str(value).map_err(|_| invalid())?;
            v.set_sensitive(true);
            headers.insert(n, v);
        }
        let auth = match &settings.api_key {
            Some(key) => {
                let mut v = HeaderValue::from_str(&format!("Bearer {key}")).map_err(|_| {
                    ProviderError::InvalidApiKey {
                        provider: provider.clone(),
                    }
                })?;
                v.set_sensitive(true);
                Some(v)
            }
            None => None,
        };
        let client = reqwest::Client::builder()
            .connect_timeout(settings.timeouts.connect)
            .tcp_nodelay(true)
            .pool_idle_timeout(Duration::from_secs(90))
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!("switchyard/", env!("CARGO_PKG_VERSION")))
            .default_headers(headers)
            .build()
            .map_err(|e| ProviderError::Client {
                provider,
                detail: e.to_string(),
            })?;
        Ok(OpenAiProvider {
            settings,
            client,
            url,
            auth,
        })
    }

    pub fn settings(&self) -> &ProviderSettings {
        &self.settings
    }

    fn not_configured(&self, target: &ModelTarget) -> BackendError {
        let s = &self.settings;
        let how = match &s.api_key_env {
            Some(env) => {
                format!("set {env} (or api_key_env / api_key in [[providers]]) and restart")
            }
            None => "set api_key_env or api_key in its [[providers]] entry and restart".into(),
        };
        BackendError::NotConfigured {
            message: format!(
                "Model '{}' is served by provider '{}', which has no API key: {how}",
                target.model_id, s.name
            ),
        }
    }

    /// One POST, up to the response headers.
    async fn attempt(&self, body: &Bytes) -> Result<(reqwest::Response, Instant), Failure> {
        let started = Instant::now();
        let mut req = self
            .client
            .post(self.url.clone())
            .header(header::CONTENT_TYPE, "application/json")
            .header(header::ACCEPT, "text/event-stream")
            .body(body.clone());
        if let Some(auth) = &self.auth {
            req = req.header(header::AUTHORIZATION, auth.clone());
        }
        let first_byte = self.settings.timeouts.first_byte;
        let resp = match tokio::time::timeout(first_byte, req.send()).await {
            Err(_) => {
                return Err(Failure::fatal(BackendError::Timeout {
                    detail: format!(
                        "provider '{}': no response within {first_byte:?}",
                        self.settings.name
                    ),
                }));
            }
            Ok(Err(e)) => return Err(self.send_failure(&e)),
            Ok(Ok(resp)) => resp,
        };
        if resp.status().is_success() {
            return Ok((resp, started));
        }
        Err(self.status_failure(resp, started + first_byte).await)
    }

    fn send_failure(&self, e: &reqwest::Error) -> Failure {
        let name = &self.settings.name;
        if e.is_connect() {
            let error = if e.is_timeout() {
                BackendError::Timeout {
                    detail: format!("provider '{name}': connect timed out ({})", self.url),
                }
            } else {
                BackendError::Unavailable {
                    detail: format!("provider '{name}': cannot connect to {}: {e}", self.url),
                    retry_after: None,
                }
            };
            return Failure {
                error,
                retryable: true,
                retry_after: None,
            };
        }
        if e.is_timeout() {
            return Failure::fatal(BackendError::Timeout {
                detail: format!("provider '{name}': request timed out"),
            });
        }
        Failure::fatal(BackendError::Upstream {
            status: None,
            detail: format!("provider '{name}': request failed: {}", without_url(e)),
        })
    }

    /// Maps a non-2xx response.
    async fn status_failure(&self, resp: reqwest::Response, deadline: Instant) -> Failure {
        let status = resp.status();
        let code = status.as_u16();
        let name = &self.settings.name;
        let retry_after = backoff::retry_after(resp.headers());
        let upstream = UpstreamError::parse(&read_limited(resp, deadline).await);
        let msg = &upstream.message;
        match status {
            StatusCode::TOO_MANY_REQUESTS | StatusCode::SERVICE_UNAVAILABLE => Failure {
                error: BackendError::Unavailable {
                    detail: format!("provider '{name}' answered HTTP {code}: {msg}"),
                    retry_after,
                },
                retryable: true,
                retry_after,
            },
            s if s.is_server_error() => Failure {
                error: BackendError::Upstream {
                    status: Some(code),
                    detail: format!("provider '{name}' answered HTTP {code}: {msg}"),
                },
                retryable: true,
                retry_after,
            },
            StatusCode::UNAUTHORIZED | StatusCode::PAYMENT_REQUIRED | StatusCode::FORBIDDEN => {
                let key_hint = self.settings.api_key_env.as_deref().unwrap_or("api_key");
                tracing::error!(
                    provider = %name,
                    status = code,
                    "upstream refused our credentials or account; check the provider's API key ({key_hint}) and billing"
                );
                Failure::fatal(BackendError::Upstream {
                    status: Some(code),
                    detail: format!(
                        "provider '{name}' refused our credentials (HTTP {code}): {msg}"
                    ),
                })
            }
            StatusCode::REQUEST_TIMEOUT => Failure::fatal(BackendError::Timeout {
                detail: format!("provider '{name}' answered HTTP 408: {msg}"),
            }),
            s if s.is_client_error() => Failure::fatal(BackendError::InvalidRequest {
                param: upstream.param,
                code: upstream.code,
                message: format!("Upstream provider rejected the request: {msg}"),
            }),
            _ => Failure::fatal(BackendError::Upstream {
                status: Some(code),
                detail: format!("provider '{name}' answered unexpected HTTP {code}"),
            }),
        }
    }
}

fn without_url(e: &reqwest::Error) -> String {
    let mut text = e.to_string();
    if let Some(url) = e.url() {
        text = text.replace(url.as_str(), "<upstream>");
    }
    text
}

/// Reads at most [`MAX_ERROR_BODY`] bytes of a body before `deadline`.
async fn read_limited(mut resp: reqwest::Response, deadline: Instant) -> String {
    let mut buf = Vec::new();
    while buf.len() < MAX_ERROR_BODY {
        match tokio::time::timeout_at(deadline, resp.chunk()).await {
            Ok(Ok(Some(chunk))) => buf.extend_from_slice(&chunk),
            _ => break,
        }
    }
    buf.truncate(MAX_ERROR_BODY);
    String::from_utf8_lossy(&buf).into_owned()
}

/// The useful parts of an upstream error body.
#[derive(Debug, PartialEq)]
struct UpstreamError {
    message: String,
    param: Option<String>,
    code: Option<String>,
}

impl UpstreamError {
    /// Understands `{"error": {"message", "param", "code"}}`, `{"error": "…"}`,
    /// `{"message": "…"}`, `{"detail": "…"}` (FastAPI), or plain text.
    fn parse(body: &str) -> Self {
        let v: Value = serde_json::from_str(body).unwrap_or(Value::Null);
        let err = v.get("error").filter(|e| e.is_object()).unwrap_or(&v);
        let text = |key: &str| err.get(key).and_then(Value::as_str).map(str::to_owned);
        let message = text("message")
            .or_else(|| v.get("error").and_then(Value::as_str).map(str::to_owned))
            .or_else(|| text("detail"))
            .or_else(|| v.get("detail").map(|d| d.to_string()))
            .unwrap_or_else(|| body.trim().to_owned());
        let message = if message.is_empty() {
            "(no message)".to_owned()
        } else {
            message.chars().take(MAX_ERROR_MESSAGE).collect()
        };
        let code = match err.get("code") {
            Some(Value::String(s)) => Some(s.clone()),
            Some(Value::Number(n)) => Some(n.to_string()),
            _ => None,
        };
        UpstreamError {
            message,
            param: text("param"),
            code,
        }
    }
}

/// Characters of all message text (for the usage estimate).
fn prompt_chars(req: &ChatRequest) -> u64 {
    req.messages
        .iter()
        .filter_map(|m| m.content.as_ref())
        .map(|c| c.text().chars().count() as u64)
        .sum()
}

#[async_trait::async_trait]
impl Backend for OpenAiProvider {
    fn name(&self) -> &str {
        &self.settings.name
    }

    async fn chat(
        &self,
        target: &ModelTarget,
        request: &ChatRequest,
    ) -> Result<EventStream, BackendError> {
        if self.auth.is_none() && self.settings.requires_api_key {
            return Err(self.not_configured(target));
        }
        // Neither has a request field we could forward; refuse rather than drop.
        if request.options.audio_output {
            return Err(BackendError::InvalidRequest {
                param: Some("modalities".into()),
                code: Some("unsupported_parameter".into()),
                message: format!(
                    "Audio output is not supported for model '{}' by provider '{}'.",
                    target.model_id, self.settings.name
                ),
            });
        }
        if request.options.web_search {
            return Err(BackendError::InvalidRequest {
                param: Some("web_search_options".into()),
                code: Some("unsupported_parameter".into()),
                message: format!(
                    "Web search is not supported for model '{}' by provider '{}'.",
                    target.model_id, self.settings.name
                ),
            });
        }
        let body = serde_json::to_vec(&wire::request_body(target, request))
            .map(Bytes::from)
            .map_err(|e| BackendError::Internal {
                detail: format!("cannot serialise the upstream request: {e}"),
            })?;
        let name = &self.settings.name;
        let policy = &self.settings.retry;
        let mut retry = 0;
        loop {
            match self.attempt(&body).await {
                Ok((resp, started)) => {
                    tracing::debug!(provider = %name, model = %target.upstream_model, retries = retry, "upstream stream started");
                    return Ok(stream::events(
                        resp,
                        StreamContext {
                            provider: name.clone(),
                            n: request.n,
                            prompt_chars: prompt_chars(request),
                            first_byte_deadline: started + self.settings.timeouts.first_byte,
                            idle: self.settings.timeouts.idle,
                        },
                    ));
                }
                Err(f) if f.retryable && retry < policy.max_retries => {
                    let wait = backoff::delay(policy, retry, f.retry_after);
                    tracing::warn!(provider = %name, error = %f.error, retry = retry + 1, wait_ms = wait.as_millis() as u64, "upstream attempt failed; retrying");
                    tokio::time::sleep(wait).await;
                    retry += 1;
                }
                Err(f) => {
                    tracing::warn!(provider = %name, error = %f.error, retries = retry, "upstream request failed");
                    return Err(f.error);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_error_bodies() {
        let e = UpstreamError::parse(
            r#"{"error":{"message":"bad temp","type":"invalid_request_error","param":"temperature","code":"invalid_value"}}"#,
        );
        assert_eq!(e.message, "bad temp");
        assert_eq!(e.param.as_deref(), Some("temperature"));
        assert_eq!(e.code.as_deref(), Some("invalid_value"));
        assert_eq!(UpstreamError::parse(r#"{"error":"nope"}"#).message, "nope");
        assert_eq!(
            UpstreamError::parse(r#"{"detail":"fastapi"}"#).message,
            "fastapi"
        );
        assert_eq!(UpstreamError::parse("plain text\n").message, "plain text");
        assert_eq!(UpstreamError::parse("").message, "(no message)");
        assert_eq!(
            UpstreamError::parse(&"x".repeat(2000)).message.len(),
            MAX_ERROR_MESSAGE
        );
    }

    #[test]
    fn rejects_bad_settings_without_showing_the_key() {
        let bad_url = ProviderSettings::new("p", "not a url");
        assert!(matches!(
            OpenAiProvider::new(bad_url),
            Err(ProviderError::InvalidBaseUrl { .. })
        ));
        let mut bad_key = ProviderSettings::new("p", "http://localhost/v1");
        bad_key.api_key = Some("sk-secret\nvalue".into());
        let err = OpenAiProvider::new(bad_key).unwrap_err();
        assert!(!err.to_string().contains("sk-secret"));
        let mut bad_header = ProviderSettings::new("p", "http://localhost/v1");
        bad_header.headers.push(("bad header".into(), "v".into()));
        assert!(matches!(
            OpenAiProvider::new(bad_header),
            Err(ProviderError::InvalidHeader { .. })
        ));
    }
}
