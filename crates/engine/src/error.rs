//! The engine's error type.

use switchyard_gguf::GgufError;

/// Everything that can go wrong loading a model or running it.
#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    /// The GGUF file could not be read.
    #[error(transparent)]
    Gguf(#[from] GgufError),
    /// The file's architecture is not one the engine runs.
    #[error("unsupported architecture {0:?} (supported: llama, qwen2, qwen3)")]
    UnsupportedArchitecture(String),
    /// A required metadata key is absent.
    #[error("metadata key {0:?} is missing")]
    MissingKey(String),
    /// A metadata value is out of range or inconsistent with the others.
    #[error("metadata key {key:?}: {reason}")]
    BadMetadata { key: String, reason: String },
    /// A required tensor is absent.
    #[error("tensor {0:?} is missing")]
    MissingTensor(String),
    /// A tensor has the wrong shape or a type the engine cannot compute with.
    #[error("tensor {tensor:?}: {reason}")]
    BadTensor { tensor: String, reason: String },
    /// A kernel was called with arguments that do not fit together.
    #[error("kernel: {0}")]
    Kernel(String),
    /// A token id outside the vocabulary.
    #[error("token id {token} is outside the vocabulary (size {vocab})")]
    BadToken { token: u32, vocab: usize },
    /// The sequence would grow past the context length.
    #[error("context full: {needed} positions needed, context length is {n_ctx}")]
    ContextFull { needed: usize, n_ctx: usize },
    /// Invalid request to the runner (empty batch, mismatched cache …).
    #[error("{0}")]
    Invalid(String),
    /// The worker thread pool could not be built.
    #[error("thread pool: {0}")]
    ThreadPool(String),
}
