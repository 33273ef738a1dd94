//! The HTTP edge: axum routes, validation into `ChatRequest`, auth, SSE,
//! the OpenAI error shape and metrics.
//!
//! Architecture Invariant: this is the only crate that knows our HTTP API and
//! its JSON. Everything behind it speaks `switchyard_core` types.

pub mod error;
pub mod validate;

pub use error::{ApiError, ErrorKind};
pub use validate::parse_chat_request;
