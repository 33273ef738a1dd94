//! The crate's error type.

use std::path::PathBuf;

/// Everything that can go wrong reading, writing or (de)quantizing GGUF data.
///
/// Every variant names the problem: the key, tensor, type or byte offset involved.
#[derive(Debug, thiserror::Error)]
pub enum GgufError {
    /// The file could not be opened or mapped.
    #[error("cannot read GGUF file {}: {source}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// The first four bytes are not `GGUF`.
    #[error("not a GGUF file: magic bytes {0:02x?}, expected \"GGUF\" (47 47 55 46)")]
    BadMagic([u8; 4]),
    /// GGUF version other than 2 or 3 (v1 used 32-bit counts and is not supported).
    #[error("unsupported GGUF version {0} (supported: 2 and 3)")]
    UnsupportedVersion(u32),
    /// The file ends before a field it declares.
    #[error(
        "GGUF file truncated at offset {offset} while reading {what}: need {needed} bytes, {available} available"
    )]
    Truncated {
        what: String,
        offset: u64,
        needed: u64,
        available: u64,
    },
    /// A field has an impossible or unsupported value.
    #[error("malformed GGUF at offset {offset}: {what}")]
    Malformed { what: String, offset: u64 },
    /// A metadata key is present but has a different type than asked for.
    #[error("metadata key {key:?} has type {found}, expected {expected}")]
    WrongType {
        key: String,
        expected: &'static str,
        found: &'static str,
    },
    /// A tensor's description or data is invalid.
    #[error("tensor {tensor:?}: {reason}")]
    Tensor { tensor: String, reason: String },
    /// An operation is not available for a ggml type, or its arguments don't fit the type.
    #[error("ggml type {ty}: {reason}")]
    Type { ty: String, reason: String },
    /// The writer was given something it cannot encode.
    #[error("GGUF writer: {0}")]
    Writer(String),
    /// Writing the output failed.
    #[error("GGUF writer: I/O error: {0}")]
    WriteIo(#[source] std::io::Error),
}

impl GgufError {
    pub(crate) fn ty(ty: crate::GgmlType, reason: impl Into<String>) -> Self {
        GgufError::Type {
            ty: ty.to_string(),
            reason: reason.into(),
        }
    }

    pub(crate) fn tensor(name: &str, reason: impl Into<String>) -> Self {
        GgufError::Tensor {
            tensor: name.to_string(),
            reason: reason.into(),
        }
    }
}
