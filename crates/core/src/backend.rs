//! The narrow interface every backend (remote provider, local engine) implements.
//!
//! Architecture Invariant: a backend takes a validated [`ChatRequest`] and
//! returns a stream of [`Event`]s. Its last event on success is
//! [`Event::Usage`]. Backends never write billing or usage themselves.
//! Dropping the stream cancels the work (the upstream request is dropped, the
//! engine sequence is freed).

use std::{pin::Pin, time::Duration};

use futures::Stream;

use crate::{Capabilities, ChatRequest, Usage};

/// What the router resolved a public model id to.
#[derive(Debug, Clone, PartialEq)]
pub struct ModelTarget {
    /// Public id (e.g. `x-ai/grok-beta`), used in responses.
    pub model_id: String,
    /// Name of the model at the backend (e.g. `grok-beta`, or a GGUF name).
    pub upstream_model: String,
    pub context_length: Option<u32>,
    pub capabilities: Capabilities,
}

/// Why a choice stopped.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FinishReason {
    Stop,
    Length,
    ToolCalls,
    ContentFilter,
    /// Any other reason an upstream reported, passed through verbatim.
    Other(String),
}

impl FinishReason {
    pub fn as_str(&self) -> &str {
        match self {
            FinishReason::Stop => "stop",
            FinishReason::Length => "length",
            FinishReason::ToolCalls => "tool_calls",
            FinishReason::ContentFilter => "content_filter",
            FinishReason::Other(s) => s,
        }
    }

    pub fn parse(s: &str) -> Self {
        match s {
            "stop" => FinishReason::Stop,
            "length" => FinishReason::Length,
            "tool_calls" | "function_call" => FinishReason::ToolCalls,
            "content_filter" => FinishReason::ContentFilter,
            other => FinishReason::Other(other.to_owned()),
        }
    }
}

/// A piece of a tool call as it streams.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ToolCallDelta {
    /// Position of the call within the message's `tool_calls`.
    pub index: u32,
    pub id: Option<String>,
    pub name: Option<String>,
    pub arguments: Option<String>,
}

/// One alternative at a token position.
#[derive(Debug, Clone, PartialEq)]
pub struct TopLogprob {
    pub token: String,
    pub logprob: f32,
    pub bytes: Option<Vec<u8>>,
}

/// Log-probability of one emitted token.
#[derive(Debug, Clone, PartialEq)]
pub struct TokenLogprob {
    pub token: String,
    pub logprob: f32,
    pub bytes: Option<Vec<u8>>,
    pub top: Vec<TopLogprob>,
}

/// Incremental output for one choice.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Delta {
    pub content: Option<String>,
    /// Reasoning text (`reasoning_content` upstream), if the model exposes it.
    pub reasoning: Option<String>,
    pub refusal: Option<String>,
    pub tool_calls: Vec<ToolCallDelta>,
    pub logprobs: Vec<TokenLogprob>,
}

/// An item of a backend's output stream.
#[derive(Debug, Clone, PartialEq)]
pub enum Event {
    Delta {
        index: u32,
        delta: Delta,
    },
    Finish {
        index: u32,
        reason: FinishReason,
    },
    /// Always the last event of a successful stream.
    Usage(Usage),
}

/// Errors a backend reports, before or during a stream.
///
/// `Display` may contain internal detail for logs; the HTTP edge uses
/// [`BackendError::public_message`] for 5xx responses.
#[derive(Debug, Clone, thiserror::Error, PartialEq)]
pub enum BackendError {
    /// The request cannot be served as asked (unsupported parameter, context
    /// too long, upstream 4xx). Maps to 400.
    #[error("{message}")]
    InvalidRequest {
        param: Option<String>,
        code: Option<String>,
        message: String,
    },
    /// The backend is not configured (e.g. no API key). Maps to 503.
    #[error("{message}")]
    NotConfigured { message: String },
    /// Overloaded or unreachable (connect refused, upstream 429/503, engine queue full). Maps to 503.
    #[error("backend unavailable: {detail}")]
    Unavailable {
        detail: String,
        retry_after: Option<Duration>,
    },
    /// Upstream answered badly (5xx, invalid JSON, stream cut). Maps to 502.
    #[error("upstream error: {detail}")]
    Upstream { status: Option<u16>, detail: String },
    /// No answer in time (connect, first byte or idle). Maps to 504.
    #[error("backend timed out: {detail}")]
    Timeout { detail: String },
    /// A bug or local failure. Maps to 500.
    #[error("internal error: {detail}")]
    Internal { detail: String },
}

impl BackendError {
    /// Text safe to show to API clients. Never contains addresses, paths or upstream bodies for 5xx.
    pub fn public_message(&self) -> String {
        match self {
            BackendError::InvalidRequest { message, .. }
            | BackendError::NotConfigured { message } => message.clone(),
            BackendError::Unavailable { .. } => {
                "The model backend is overloaded or unreachable; try again later.".into()
            }
            BackendError::Upstream {
                status: Some(s), ..
            } => format!("The upstream provider returned an error (HTTP {s})."),
            BackendError::Upstream { status: None, .. } => {
                "The upstream provider returned an invalid response.".into()
            }
            BackendError::Timeout { .. } => "The model backend did not answer in time.".into(),
            BackendError::Internal { .. } => "Internal server error.".into(),
        }
    }

    /// Whether another attempt (or another provider) may succeed: only
    /// failures that happen before the first byte and are not the caller's fault.
    pub fn is_retryable(&self) -> bool {
        matches!(
            self,
            BackendError::Unavailable { .. }
                | BackendError::Upstream { .. }
                | BackendError::Timeout { .. }
        )
    }
}

/// The stream a backend returns. Dropping it cancels the work.
pub type EventStream = Pin<Box<dyn Stream<Item = Result<Event, BackendError>> + Send + 'static>>;

/// A backend: a remote provider or the local engine.
#[async_trait::async_trait]
pub trait Backend: Send + Sync + 'static {
    /// Short name for logs, metrics and the usage ledger (e.g. `xai`, `local`).
    fn name(&self) -> &str;

    /// Starts a completion. Resolves once the backend has committed to
    /// answering (upstream response headers received, or the engine admitted
    /// the sequence). Errors returned here happened before the first byte and
    /// the router may try a fallback; errors inside the stream may not.
    async fn chat(
        &self,
        target: &ModelTarget,
        request: &ChatRequest,
    ) -> Result<EventStream, BackendError>;
}
