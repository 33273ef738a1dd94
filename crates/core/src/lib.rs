//! Domain types shared by every Switchyard crate.
//!
//! Architecture Invariant: this crate knows nothing about HTTP. It defines the
//! *validated* request ([`ChatRequest`]) that the HTTP layer produces and that
//! backends accept, the [`Event`] stream backends return, and [`Usage`].
//! `serde_json::Value` appears only as an opaque carrier for JSON Schema
//! documents (tool parameters, response formats) that we pass through.

pub mod backend;
pub mod capabilities;
pub mod request;
pub mod usage;

pub use backend::{
    Backend, BackendError, Delta, Event, EventStream, FinishReason, ModelTarget, TokenLogprob,
    ToolCallDelta, TopLogprob,
};
pub use capabilities::{Capabilities, Unsupported};
pub use request::*;
pub use usage::{Prices, Usage};
