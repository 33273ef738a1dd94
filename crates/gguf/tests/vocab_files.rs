#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
//! Opens the real vocabulary files from `shared/vocab/` (written by llama.cpp's gguf-py).

use std::path::PathBuf;
use switchyard_gguf::{GgufError, GgufFile, Value};

fn vocab(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../../shared/vocab")
        .join(name)
}

#[test]
fn llama_bpe_vocab_metadata() {
    let f = GgufFile::open(vocab("ggml-vocab-llama-bpe.gguf")).unwrap();
    assert_eq!(f.version(), 3);
    assert_eq!(f.alignment(), 32);
    assert!(f.tensors().is_empty());
    let m = f.metadata();
    assert_eq!(m.get_str("general.architecture").unwrap(), Some("llama"));
    assert_eq!(m.get_str("tokenizer.ggml.model").unwrap(), Some("gpt2"));
    assert_eq!(m.get_str("tokenizer.ggml.pre").unwrap(), Some("llama-bpe"));
    assert_eq!(m.get_u64("llama.block_count").unwrap(), Some(32));
    assert_eq!(m.get_u64("llama.embedding_length").unwrap(), Some(4096));
    let tokens = m.get_array("tokenizer.ggml.tokens").unwrap().unwrap();
    assert_eq!(tokens.len(), 128256);
    assert_eq!(tokens[0], Value::String("!".into()));
    assert_eq!(tokens[128000].as_str(), Some("<|begin_of_text|>"));
    let types = m
        .get_i64_array("tokenizer.ggml.token_type")
        .unwrap()
        .unwrap();
    assert_eq!(types.len(), tokens.len());
    let merges = m.get_str_array("tokenizer.ggml.merges").unwrap().unwrap();
    assert!(merges.len() > 200_000, "{}", merges.len());
    assert_eq!(
        m.get_u64("tokenizer.ggml.bos_token_id").unwrap(),
        Some(128000)
    );
    // Wrong-type access names the key and both types.
    let e = m.get_u64("tokenizer.ggml.model").unwrap_err().to_string();
    assert!(
        e.contains("tokenizer.ggml.model") && e.contains("string"),
        "{e}"
    );
}

#[test]
fn other_vocab_files_open() {
    let spm = GgufFile::open(vocab("ggml-vocab-llama-spm.gguf")).unwrap();
    assert_eq!(
        spm.metadata().get_str("tokenizer.ggml.model").unwrap(),
        Some("llama")
    );
    let n = spm
        .metadata()
        .get_array("tokenizer.ggml.tokens")
        .unwrap()
        .unwrap()
        .len();
    assert_eq!(n, 32000);
    let scores = spm
        .metadata()
        .get_f32_array("tokenizer.ggml.scores")
        .unwrap()
        .unwrap();
    assert_eq!(scores.len(), n);
    let qwen = GgufFile::open(vocab("ggml-vocab-qwen2.gguf")).unwrap();
    assert_eq!(
        qwen.metadata().get_str("tokenizer.ggml.pre").unwrap(),
        Some("qwen2")
    );
}

#[test]
fn missing_file_is_io_error() {
    let e = GgufFile::open(vocab("does-not-exist.gguf")).unwrap_err();
    assert!(matches!(e, GgufError::Io { .. }));
    assert!(e.to_string().contains("does-not-exist.gguf"));
}

#[test]
fn truncated_vocab_is_an_error_naming_the_key() {
    let bytes = std::fs::read(vocab("ggml-vocab-llama-bpe.gguf")).unwrap();
    let cut = bytes[..bytes.len() / 2].to_vec();
    let e = GgufFile::from_bytes(cut).unwrap_err().to_string();
    assert!(e.contains("truncated") || e.contains("cannot fit"), "{e}");
    assert!(e.contains("tokenizer.ggml."), "{e}");
}
