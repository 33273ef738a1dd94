#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
//! Deterministic stand-in for the `cargo fuzz` target: thousands of mutated and truncated
//! versions of a valid GGUF must each give `Ok` or a proper error, never a panic.

use switchyard_gguf::quant::{dequantize_row, is_supported};
use switchyard_gguf::{GgmlType, GgufFile, GgufWriter, Value};

struct XorShift(u64);

impl XorShift {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

fn valid_file() -> Vec<u8> {
    let mut w = GgufWriter::new();
    w.set("general.architecture", Value::String("llama".into()))
        .unwrap();
    w.set("llama.block_count", Value::U32(2)).unwrap();
    w.set("llama.rope.freq_base", Value::F32(10000.0)).unwrap();
    w.set("tokenizer.ggml.add_bos_token", Value::Bool(true))
        .unwrap();
    w.set(
        "tokenizer.ggml.tokens",
        Value::Array((0..40).map(|i| Value::String(format!("tok{i}"))).collect()),
    )
    .unwrap();
    w.set(
        "nested",
        Value::Array(vec![Value::Array(vec![Value::I64(-1), Value::I64(2)])]),
    )
    .unwrap();
    let x: Vec<f32> = (0..512).map(|i| (i as f32 * 0.37).sin()).collect();
    w.add_tensor_f32("q8", &[32, 4], GgmlType::Q8_0, &x[..128])
        .unwrap();
    w.add_tensor_f32("q4k", &[256, 2], GgmlType::Q4_K, &x)
        .unwrap();
    w.add_tensor_f32("q6k", &[256], GgmlType::Q6_K, &x[..256])
        .unwrap();
    w.add_tensor_f32("f16", &[3, 2], GgmlType::F16, &x[..6])
        .unwrap();
    w.into_bytes().unwrap()
}

/// Parses and, on success, touches every key and every tensor's data.
fn exercise(bytes: Vec<u8>) -> bool {
    match GgufFile::from_bytes(bytes) {
        Ok(f) => {
            for (k, v) in f.metadata().iter() {
                assert!(!format!("{k}{v:?}").is_empty());
                let _ = f.metadata().get_str(k);
                let _ = f.metadata().get_u64(k);
                let _ = f.metadata().get_str_array(k);
            }
            for t in f.tensors() {
                let data = f.tensor_data(t).unwrap();
                assert_eq!(data.len() as u64, t.n_bytes);
                if is_supported(t.ggml_type) && t.n_elements > 0 {
                    let row = t.row_len() as usize;
                    let rb = t.ggml_type.row_bytes(row).unwrap();
                    let mut y = vec![0f32; row];
                    dequantize_row(t.ggml_type, &data[..rb], &mut y).unwrap();
                }
            }
            true
        }
        Err(e) => {
            assert!(!e.to_string().is_empty());
            false
        }
    }
}

fn mutate(base: &[u8], rng: &mut XorShift) -> Vec<u8> {
    let mut m = base.to_vec();
    for _ in 0..1 + rng.below(3) {
        match rng.below(6) {
            0 => {
                let i = rng.below(m.len());
                if let Some(b) = m.get_mut(i) {
                    *b ^= 1 << rng.below(8);
                }
            }
            1 => {
                let i = rng.below(m.len());
                if let Some(b) = m.get_mut(i) {
                    *b = rng.next() as u8;
                }
            }
            2 => {
                // An extreme 64-bit value where a count, length, dimension or offset may be.
                let v = [
                    0,
                    1,
                    u64::MAX,
                    1 << 63,
                    1 << 32,
                    m.len() as u64,
                    0xFFFF_FFFF,
                ][rng.below(7)];
                let i = rng.below(m.len().saturating_sub(8));
                if let Some(s) = m.get_mut(i..i + 8) {
                    s.copy_from_slice(&v.to_le_bytes());
                }
            }
            3 => m.truncate(rng.below(m.len())),
            4 => {
                let i = rng.below(m.len());
                let n = rng.below(16);
                m.drain(i..(i + n).min(m.len()));
            }
            _ => {
                let i = rng.below(m.len());
                let junk: Vec<u8> = (0..rng.below(16)).map(|_| rng.next() as u8).collect();
                m.splice(i..i, junk);
            }
        }
    }
    m
}

#[test]
fn mutated_files_never_panic() {
    let base = valid_file();
    assert!(exercise(base.clone()));
    let mut rng = XorShift(0x5EED_1234_ABCD_0001);
    let (mut ok, mut err) = (0, 0);
    for _ in 0..4000 {
        if exercise(mutate(&base, &mut rng)) {
            ok += 1;
        } else {
            err += 1;
        }
    }
    // Both outcomes must occur, or the mutations are not reaching the parser.
    assert!(ok > 50 && err > 1000, "ok {ok}, err {err}");
}

#[test]
fn every_truncation_before_the_end_of_data_is_an_error() {
    let base = valid_file();
    let f = GgufFile::from_bytes(base.clone()).unwrap();
    let end = f
        .tensors()
        .iter()
        .map(|t| f.data_offset() as u64 + t.offset + t.n_bytes)
        .max()
        .unwrap() as usize;
    for len in 0..end {
        assert!(
            GgufFile::from_bytes(base[..len].to_vec()).is_err(),
            "prefix of {len} bytes parsed"
        );
    }
    assert!(GgufFile::from_bytes(base[..end].to_vec()).is_ok());
}

#[test]
fn mutated_real_vocab_header_never_panics() {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../../shared/vocab/ggml-vocab-llama-spm.gguf");
    let base = std::fs::read(path).unwrap();
    let mut rng = XorShift(42);
    for _ in 0..150 {
        // Mutate only the first 4 KiB (where the counts, types and lengths are).
        let mut m = base.clone();
        let i = rng.below(4096);
        let v = [0, u64::MAX, 1 << 40, 13][rng.below(4)];
        m[i..i + 8].copy_from_slice(&v.to_le_bytes());
        exercise(m);
    }
}
