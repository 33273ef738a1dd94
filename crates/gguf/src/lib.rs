//! GGUF v2/v3 reader (memory-mapped, panic-free), writer and quantizers.
//!
//! [`GgufFile::open`] maps a file and validates its header: every count, length and size is
//! checked against the bytes actually present before anything is allocated, and every tensor's
//! data must lie inside the file. Tensor data is handed out as zero-copy slices.
//!
//! [`GgufWriter`] writes GGUF v3 files in llama.cpp's layout, and [`quant`] holds scalar
//! reference (de)quantizers with ggml's exact block layouts.

mod cursor;
mod error;
mod reader;
mod types;
mod value;
mod writer;

pub use error::GgufError;
pub use reader::{ALIGNMENT_KEY, DEFAULT_ALIGNMENT, GGUF_MAGIC, GgufFile, MAX_DIMS, TensorInfo};
pub use types::{GgmlType, QK_K};
pub use value::{Metadata, Value, ValueType};
pub use writer::{GgufWriter, MAX_TENSOR_NAME_LEN};
pub mod quant;
