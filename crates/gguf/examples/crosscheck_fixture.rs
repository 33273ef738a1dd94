//! Writes the inputs for `scripts/crosscheck_gguf_py.py`, which compares this crate with
//! llama.cpp's own Python package (`gguf`): `DIR/fixture.gguf` holds, for every supported
//! type, a tensor quantized by us (`q.TYPE`) and one of random blocks with sane scales
//! (`r.TYPE`); `DIR/NAME.ours.f32` is our dequantization of each tensor; `DIR/input.f32` the
//! values quantized. Usage: `cargo run -p switchyard-gguf --example crosscheck_fixture DIR`.

use switchyard_gguf::quant::{dequantize_row, quantize_tensor};
use switchyard_gguf::{GgmlType, GgufError, GgufWriter, Value};

const TYPES: [GgmlType; 12] = [
    GgmlType::F32,
    GgmlType::F16,
    GgmlType::BF16,
    GgmlType::Q8_0,
    GgmlType::Q4_0,
    GgmlType::Q4_1,
    GgmlType::Q5_0,
    GgmlType::Q5_1,
    GgmlType::Q4_K,
    GgmlType::Q5_K,
    GgmlType::Q6_K,
    GgmlType::Q8_K,
];

/// Byte offsets of f16 scales within a block, to be overwritten with finite values.
fn f16_fields(ty: GgmlType) -> &'static [usize] {
    match ty {
        GgmlType::Q8_0 | GgmlType::Q4_0 | GgmlType::Q5_0 => &[0],
        GgmlType::Q4_1 | GgmlType::Q5_1 | GgmlType::Q4_K | GgmlType::Q5_K => &[0, 2],
        GgmlType::Q6_K => &[208],
        _ => &[],
    }
}

fn main() -> Result<(), GgufError> {
    let dir = std::path::PathBuf::from(std::env::args().nth(1).unwrap_or_else(|| ".".into()));
    let write = |name: &str, bytes: &[u8]| {
        std::fs::write(dir.join(name), bytes).map_err(|source| GgufError::Io {
            path: dir.join(name),
            source,
        })
    };
    let mut s = 0x1234_5678_9abc_def1u64;
    let mut next = move || {
        s ^= s << 13;
        s ^= s >> 7;
        s ^= s << 17;
        s
    };
    let (row, rows) = (512usize, 4usize);
    let x: Vec<f32> = (0..row * rows)
        .map(|i| {
            let u = (next() >> 40) as f32 / (1u64 << 24) as f32 - 0.5;
            if i % 61 == 0 { u * 8.0 } else { u }
        })
        .collect();
    write(
        "input.f32",
        &x.iter().flat_map(|v| v.to_le_bytes()).collect::<Vec<_>>(),
    )?;

    let mut w = GgufWriter::new();
    w.set("general.architecture", Value::String("llama".into()))?;
    w.set("general.alignment", Value::U32(64))?;
    let dims = [row as u64, rows as u64];
    for ty in TYPES {
        let ours = quantize_tensor(ty, &x, row)?;
        let mut random: Vec<u8> = (0..ours.len()).map(|_| next() as u8).collect();
        if ty == GgmlType::F32 || ty == GgmlType::F16 || ty == GgmlType::BF16 {
            random = ours.clone();
        }
        for block in random.chunks_mut(ty.type_size()) {
            for &at in f16_fields(ty) {
                let v = ((next() % 2000) as f32 - 1000.0) / 4096.0;
                block[at..at + 2].copy_from_slice(&half::f16::from_f32(v).to_le_bytes());
            }
            if ty == GgmlType::Q8_K {
                let v = ((next() % 2000) as f32 - 1000.0) / 4096.0;
                block[0..4].copy_from_slice(&v.to_le_bytes());
            }
        }
        for (prefix, data) in [("q", ours), ("r", random)] {
            let name = format!("{prefix}.{}", ty.name());
            let mut y = vec![0f32; row * rows];
            for (out, src) in y.chunks_mut(row).zip(data.chunks(data.len() / rows)) {
                dequantize_row(ty, src, out)?;
            }
            write(
                &format!("{name}.ours.f32"),
                &y.iter().flat_map(|v| v.to_le_bytes()).collect::<Vec<_>>(),
            )?;
            w.add_tensor(name, &dims, ty, data)?;
        }
    }
    w.write_file(dir.join("fixture.gguf"))
}
