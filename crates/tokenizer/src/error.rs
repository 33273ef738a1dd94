//! The crate's error type.

/// Everything that can go wrong building a tokenizer from metadata or running it.
#[derive(Debug, thiserror::Error)]
pub enum TokenizerError {
    /// A required metadata key is absent.
    #[error("tokenizer metadata key {0:?} is missing")]
    MissingKey(&'static str),
    /// A metadata key holds a value of the wrong type or shape.
    #[error("tokenizer metadata key {key:?}: {reason}")]
    BadValue { key: &'static str, reason: String },
    /// `tokenizer.ggml.model` names a tokenizer we do not implement.
    #[error(
        "unsupported tokenizer model {0:?} (supported: \"llama\" (SentencePiece), \"gpt2\" (BPE))"
    )]
    UnsupportedModel(String),
    /// `tokenizer.ggml.pre` names a pre-tokenizer we do not implement.
    #[error("unsupported BPE pre-tokenizer {0:?}")]
    UnsupportedPreTokenizer(String),
    /// Two vocabulary entries have the same text.
    #[error("duplicate token in vocabulary: {text:?} has ids {first} and {second}")]
    DuplicateToken {
        text: String,
        first: u32,
        second: u32,
    },
    /// The vocabulary is empty or too large for 32-bit ids.
    #[error("invalid vocabulary size {0}")]
    VocabSize(usize),
    /// The metadata asks for BOS/EOS to be added but names no such token.
    #[error("{flag} is true, but {id_key} is not set")]
    MissingSpecialToken {
        flag: &'static str,
        id_key: &'static str,
    },
    /// A pre-tokenizer regex failed to compile (a bug in our pattern table).
    #[error("pre-tokenizer regex {pattern:?} does not compile: {message}")]
    RegexCompile { pattern: String, message: String },
    /// The regex engine gave up on an input (backtracking limit).
    #[error("pre-tokenizer regex failed on the input: {0}")]
    RegexRun(String),
    /// Reading the GGUF metadata failed.
    #[error(transparent)]
    Gguf(#[from] switchyard_gguf::GgufError),
}
