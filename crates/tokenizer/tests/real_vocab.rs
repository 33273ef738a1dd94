//! Behaviour on the real vocabularies in `shared/vocab/`: special tokens, BOS, end of
//! generation, round trips and streaming detokenisation.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::PathBuf;
use switchyard_gguf::GgufFile;
use switchyard_tokenizer::{ModelKind, PreKind, Tokenizer};

fn path(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(format!("../../../shared/vocab/{name}"))
}

fn load(name: &str) -> Tokenizer {
    Tokenizer::from_gguf(&GgufFile::open(path(name)).unwrap()).unwrap()
}

/// The test texts of a vocabulary's `.inp` file.
fn cases(name: &str) -> Vec<String> {
    let inp = std::fs::read_to_string(path(&format!("{name}.inp"))).unwrap();
    inp.split("\n__ggml_vocab_test__\n")
        .map(str::to_string)
        .collect()
}

const QWEN2: &str = "ggml-vocab-qwen2.gguf";
const LLAMA_BPE: &str = "ggml-vocab-llama-bpe.gguf";
const LLAMA_SPM: &str = "ggml-vocab-llama-spm.gguf";

#[test]
fn qwen2_special_tokens() {
    let tok = load(QWEN2);
    assert_eq!(tok.model_kind(), ModelKind::Bpe);
    assert_eq!(tok.pre_kind(), PreKind::Qwen2);
    let (start, end) = (151644, 151645);
    assert_eq!(tok.token_id("<|im_start|>"), Some(start));
    let text = "<|im_start|>user\nhi<|im_end|>\n";
    let parsed = tok.encode(text, true, true).unwrap();
    assert_eq!(
        parsed.first(),
        Some(&start),
        "qwen2 adds no BOS: {parsed:?}"
    );
    assert!(parsed.contains(&end));
    assert_eq!(tok.decode(&parsed), "user\nhi\n");
    let plain = tok.encode(text, true, false).unwrap();
    assert!(
        !plain.contains(&start) && !plain.contains(&end),
        "{plain:?}"
    );
    assert_eq!(tok.decode(&plain), text);
    // User-defined tokens are matched even without parse_special.
    assert_eq!(
        tok.encode("a[PAD151646]", false, false).unwrap().last(),
        Some(&151646)
    );
    // End of generation: <|endoftext|> (EOS) and <|im_end|>.
    assert!(tok.is_eog(151643) && tok.is_eog(end));
    assert!(!tok.is_eog(start));
    assert_eq!(tok.eos(), Some(151643));
}

#[test]
fn bos_follows_metadata_and_defaults() {
    let spm = load(LLAMA_SPM);
    assert!(spm.add_bos());
    assert_eq!(
        spm.encode("Hello world", true, false).unwrap(),
        [1, 15043, 3186]
    );
    let bpe = load(LLAMA_BPE);
    assert!(bpe.add_bos(), "llama3 pre-tokenizer adds BOS by default");
    assert_eq!(
        bpe.encode("Hello world", true, false).unwrap(),
        [128000, 9906, 1917]
    );
    assert_eq!(bpe.decode(&[128000, 9906, 1917]), "Hello world");
    let eot = bpe.token_id("<|eot_id|>").unwrap();
    assert!(bpe.is_eog(eot) && bpe.is_eog(128001));
    assert!(!load(QWEN2).add_bos());
}

#[test]
fn decode_round_trips_the_test_texts() {
    for name in [QWEN2, LLAMA_SPM] {
        let tok = load(name);
        for (i, text) in cases(name).iter().enumerate() {
            let ids = tok.encode(text, false, false).unwrap();
            assert_eq!(&tok.decode(&ids), text, "{name} case {i}");
        }
    }
    // llama-bpe cleans spaces before punctuation on decode (clean_spaces), like llama.cpp.
    let tok = load(LLAMA_BPE);
    let ids = tok.encode("Hello , world 's end", false, false).unwrap();
    assert_eq!(tok.decode(&ids), "Hello, world's end");
    for (i, text) in cases(LLAMA_BPE).iter().enumerate() {
        if [" ?", " !", " .", " ,", " '"]
            .iter()
            .any(|p| text.contains(p))
        {
            continue;
        }
        let ids = tok.encode(text, false, false).unwrap();
        assert_eq!(&tok.decode(&ids), text, "llama-bpe case {i}");
    }
}

#[test]
fn streaming_decode_never_splits_characters() {
    let tok = load(QWEN2);
    // " 😁" is two byte-level tokens, the first ending inside the emoji: only the space is
    // emitted until the emoji is complete.
    let ids = tok.encode("a 😁", false, false).unwrap();
    assert_eq!(ids.len(), 3, "{ids:?}");
    assert!(std::str::from_utf8(tok.token_piece(ids[1], false)).is_err());
    let mut d = tok.decoder();
    let chunks: Vec<String> = ids.iter().map(|&id| d.push(&tok, id)).collect();
    assert_eq!(chunks, ["a", " ", "😁"]);
    for name in [QWEN2, LLAMA_BPE, LLAMA_SPM] {
        let tok = load(name);
        for (i, text) in cases(name).iter().enumerate() {
            let ids = tok.encode(text, false, false).unwrap();
            let mut d = tok.decoder();
            let mut out = String::new();
            for &id in &ids {
                let chunk = d.push(&tok, id);
                assert!(!chunk.contains('\u{FFFD}'), "{name} case {i}: broken char");
                out.push_str(&chunk);
            }
            out.push_str(&d.finish());
            let pieces: Vec<u8> = ids
                .iter()
                .flat_map(|&id| tok.token_piece(id, false).to_vec())
                .collect();
            assert_eq!(out.as_bytes(), &pieces[..], "{name} case {i}");
        }
    }
}

/// Rough speed check on a long prompt (run with `--ignored --nocapture`).
#[test]
#[ignore]
fn encode_speed() {
    for name in [QWEN2, LLAMA_BPE, LLAMA_SPM] {
        let load_start = std::time::Instant::now();
        let tok = load(name);
        let load_time = load_start.elapsed();
        let text = cases(name).join("\n").repeat(50);
        let start = std::time::Instant::now();
        let ids = tok.encode(&text, false, false).unwrap();
        let t = start.elapsed();
        let long_word = "x".repeat(20_000) + &" ".repeat(20_000) + &"7".repeat(20_000);
        let start = std::time::Instant::now();
        let n2 = tok.encode(&long_word, false, false).unwrap().len();
        println!(
            "{name}: load {load_time:?}; {} bytes -> {} tokens in {t:?}; 60k-char runs -> {n2} tokens in {:?}",
            text.len(),
            ids.len(),
            start.elapsed()
        );
    }
}
