//! The HTTP edge: axum routes, validation into `ChatRequest`, auth, SSE,
//! the OpenAI error shape and metrics.
//!
//! Architecture Invariant: this is the only crate that knows our HTTP API and
//! its JSON. Everything behind it speaks `switchyard_core` types.

pub mod accounting;
pub mod api;
pub mod auth;
pub mod chat;
pub mod dashboard;
pub mod error;
pub mod ids;
pub mod metrics;
pub mod models;
pub mod request_id;
pub mod routes;
pub mod server;
pub mod state;
pub mod validate;

pub use error::{ApiError, ErrorKind};
pub use routes::app;
pub use server::serve;
pub use state::{AppState, HttpSettings};
pub use validate::parse_chat_request;
