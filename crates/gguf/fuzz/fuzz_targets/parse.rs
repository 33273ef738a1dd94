//! `cargo +nightly fuzz run parse` (from `crates/gguf`): arbitrary bytes through the GGUF
//! reader. Every input must give `Ok` or an error; on `Ok`, every key and tensor is touched
//! and every supported tensor's first row is dequantized.
#![no_main]

use libfuzzer_sys::fuzz_target;
use switchyard_gguf::GgufFile;
use switchyard_gguf::quant::{dequantize_row, is_supported};

fuzz_target!(|data: &[u8]| {
    let Ok(file) = GgufFile::from_bytes(data.to_vec()) else {
        return;
    };
    let meta = file.metadata();
    for (key, value) in meta.iter() {
        let _ = format!("{key}{value:?}");
        let _ = meta.get_str(key);
        let _ = meta.get_u64(key);
        let _ = meta.get_f32(key);
        let _ = meta.get_bool(key);
        let _ = meta.get_str_array(key);
    }
    for t in file.tensors() {
        let Ok(bytes) = file.tensor_data(t) else {
            continue;
        };
        assert_eq!(bytes.len() as u64, t.n_bytes);
        let row = t.row_len() as usize;
        if is_supported(t.ggml_type) && t.n_elements > 0 && row <= 1 << 20 {
            if let Ok(rb) = t.ggml_type.row_bytes(row) {
                let mut out = vec![0f32; row];
                let _ = dequantize_row(t.ggml_type, &bytes[..rb.min(bytes.len())], &mut out);
            }
        }
    }
});
