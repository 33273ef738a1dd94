//! llama.cpp's tokenizer test vectors (`tests/test-tokenizer-0`): every case of every
//! `ggml-vocab-*.gguf` in `shared/vocab/` must tokenize to exactly the expected ids
//! (no BOS, special-token text treated as plain text).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::{Path, PathBuf};
use switchyard_gguf::GgufFile;
use switchyard_tokenizer::Tokenizer;

fn vocab_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/vocab")
}

/// The `.inp` texts, split as llama.cpp's test does: on "\n__ggml_vocab_test__\n", with the
/// remainder after the last separator as a final case.
fn read_cases(inp: &str) -> Vec<String> {
    const SEP: &str = "\n__ggml_vocab_test__\n";
    let mut out = Vec::new();
    let mut rest = inp;
    while !rest.is_empty() {
        match rest.find(SEP) {
            Some(i) => {
                out.push(rest[..i].to_string());
                rest = &rest[i + SEP.len()..];
            }
            None => {
                out.push(rest.to_string());
                break;
            }
        }
    }
    out
}

fn read_expected(out: &str) -> Vec<Vec<u32>> {
    out.lines()
        .map(|l| l.split_whitespace().map(|t| t.parse().unwrap()).collect())
        .collect()
}

fn vocab_files() -> Vec<PathBuf> {
    let dir = vocab_dir();
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", dir.display()))
        .map(|e| e.unwrap().path())
        .filter(|p| {
            let name = p.file_name().unwrap().to_string_lossy().into_owned();
            name.starts_with("ggml-vocab-") && name.ends_with(".gguf")
        })
        .collect();
    files.sort();
    files
}

fn check_file(path: &Path) -> Vec<String> {
    let inp = std::fs::read_to_string(format!("{}.inp", path.display())).unwrap();
    let out = std::fs::read_to_string(format!("{}.out", path.display())).unwrap();
    let cases = read_cases(&inp);
    let expected = read_expected(&out);
    assert_eq!(
        cases.len(),
        expected.len(),
        "{}: case count",
        path.display()
    );

    let file = GgufFile::open(path).unwrap();
    let tok = Tokenizer::from_gguf(&file).unwrap();
    let mut failures = Vec::new();
    for (i, (text, want)) in cases.iter().zip(&expected).enumerate() {
        let got = tok.encode(text, false, false).unwrap();
        if &got != want {
            failures.push(format!(
                "{} case {i}: text {text:?}\n  expected {want:?}\n  got      {got:?}",
                path.file_name().unwrap().to_string_lossy()
            ));
        }
    }
    failures
}

#[test]
fn llama_cpp_vocab_vectors() {
    let files = vocab_files();
    assert!(
        !files.is_empty(),
        "no ggml-vocab-*.gguf in {}",
        vocab_dir().display()
    );
    let mut failures = Vec::new();
    let mut checked = 0;
    for f in &files {
        failures.extend(check_file(f));
        checked += 1;
    }
    assert!(
        failures.is_empty(),
        "{} failing cases over {checked} vocabularies:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

#[test]
fn separator_handling_matches_llama_cpp() {
    let cases = read_cases("a\n__ggml_vocab_test__\n\n__ggml_vocab_test__\n\n\nb\n");
    assert_eq!(cases, ["a", "", "\n\nb\n"]);
}
