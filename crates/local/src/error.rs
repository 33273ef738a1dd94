//! The crate's error type.

use std::path::PathBuf;

/// Loading a model for the local backend failed.
#[derive(Debug, thiserror::Error)]
pub enum LocalError {
    /// The GGUF file could not be opened or parsed.
    #[error("{path}: {source}")]
    Gguf {
        path: PathBuf,
        source: switchyard_gguf::GgufError,
    },
    /// The engine refused the model (architecture, hyperparameters, tensors).
    #[error("{path}: {source}")]
    Engine {
        path: PathBuf,
        source: switchyard_engine::EngineError,
    },
    /// The vocabulary metadata is unusable.
    #[error("{path}: tokenizer: {source}")]
    Tokenizer {
        path: PathBuf,
        source: switchyard_tokenizer::TokenizerError,
    },
    /// The chat template does not compile.
    #[error("{path}: chat template: {source}")]
    Template {
        path: PathBuf,
        source: switchyard_template::TemplateError,
    },
    /// Two models were registered under one name.
    #[error("local model `{0}` is registered twice")]
    Duplicate(String),
}
