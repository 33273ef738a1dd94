//! CPU inference engine: compute kernels, the model runner and the per-sequence KV cache.
//!
//! A loaded [`model::Model`] is immutable and shared (`Arc`, `Send + Sync`); each conversation
//! keeps its own [`model::SeqState`] (KV cache and position), so one model serves many sequences.

mod error;
pub mod kernels;

pub use error::EngineError;
pub mod model;
pub mod sampler;

pub use model::{BatchEntry, KvType, Logits, Model, ModelOptions, SeqState};
