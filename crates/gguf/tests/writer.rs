#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
//! Writer → reader round trips, and the exact byte layout of a small file.

use switchyard_gguf::quant::{dequantize_row, quantize_row};
use switchyard_gguf::{GgmlType, GgufError, GgufFile, GgufWriter, Value, ValueType};

fn all_values() -> Vec<(&'static str, Value)> {
    vec![
        ("general.architecture", Value::String("llama".into())),
        ("t.u8", Value::U8(200)),
        ("t.i8", Value::I8(-100)),
        ("t.u16", Value::U16(60000)),
        ("t.i16", Value::I16(-30000)),
        ("t.u32", Value::U32(4_000_000_000)),
        ("t.i32", Value::I32(-2_000_000_000)),
        ("t.u64", Value::U64(u64::MAX)),
        ("t.i64", Value::I64(i64::MIN)),
        ("t.f32", Value::F32(-1.5e-7)),
        ("t.f64", Value::F64(std::f64::consts::PI)),
        ("t.bool", Value::Bool(true)),
        ("t.string", Value::String("héllo\n\u{1F600}".into())),
        ("t.empty_string", Value::String(String::new())),
        (
            "t.strings",
            Value::Array(vec![Value::String("a".into()), Value::String("".into())]),
        ),
        (
            "t.floats",
            Value::Array(vec![Value::F32(0.5), Value::F32(-2.0)]),
        ),
        ("t.ints", Value::Array((0..1000).map(Value::I32).collect())),
        (
            "t.nested",
            Value::Array(vec![
                Value::Array(vec![Value::U8(1), Value::U8(2)]),
                Value::Array(vec![Value::String("x".into())]),
            ]),
        ),
    ]
}

#[test]
fn metadata_round_trip() {
    let mut w = GgufWriter::new();
    for (k, v) in all_values() {
        w.set(k, v).unwrap();
    }
    w.set_array("t.empty", ValueType::I32, vec![]).unwrap();
    let f = GgufFile::from_bytes(w.into_bytes().unwrap()).unwrap();
    assert_eq!(f.version(), 3);
    let m = f.metadata();
    for (k, v) in all_values() {
        assert_eq!(m.get(k), Some(&v), "{k}");
    }
    assert_eq!(m.get_array("t.empty").unwrap(), Some(&[][..]));
    assert_eq!(m.len(), all_values().len() + 1);
    assert!(
        m.get_u64("t.i8")
            .unwrap_err()
            .to_string()
            .contains("negative")
    );
}

fn values(n: usize, seed: u32) -> Vec<f32> {
    (0..n)
        .map(|i| {
            ((i as u32).wrapping_mul(2_654_435_761).wrapping_add(seed) >> 8) as f32
                / (1 << 24) as f32
                - 0.5
        })
        .collect()
}

#[test]
fn tensors_round_trip_every_type_and_alignment() {
    let types = [
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
    for alignment in [32u32, 64, 256] {
        let mut w = GgufWriter::new();
        w.set("general.alignment", Value::U32(alignment)).unwrap();
        let mut expected = Vec::new();
        for (i, ty) in types.iter().enumerate() {
            let dims = [512u64, 3];
            let x = values(1536, i as u32);
            let name = format!("blk.{i}.{}", ty.name());
            w.add_tensor_f32(&name, &dims, *ty, &x).unwrap();
            let mut enc = Vec::new();
            for row in x.chunks(512) {
                quantize_row(*ty, row, &mut enc).unwrap();
            }
            expected.push((name, *ty, enc));
        }
        // A 1-D F32 tensor of odd length exercises the padding after a tensor.
        w.add_tensor_f32("odd", &[3], GgmlType::F32, &[1.0, 2.0, 3.0])
            .unwrap();
        let bytes = w.into_bytes().unwrap();
        let f = GgufFile::from_bytes(bytes).unwrap();
        assert_eq!(f.alignment(), u64::from(alignment));
        assert_eq!(f.data_offset() as u64 % u64::from(alignment), 0);
        assert_eq!(f.tensors().len(), types.len() + 1);
        for (t, (name, ty, enc)) in f.tensors().iter().zip(&expected) {
            assert_eq!(&t.name, name);
            assert_eq!(t.ggml_type, *ty);
            assert_eq!(t.dims, vec![512, 3]);
            assert_eq!(t.offset % u64::from(alignment), 0);
            let data = f.tensor_data(t).unwrap();
            assert_eq!(data, &enc[..], "{name}");
            let mut y = vec![0f32; 512];
            dequantize_row(*ty, &data[..ty.row_bytes(512).unwrap()], &mut y).unwrap();
        }
        let odd = f.tensor("odd").unwrap();
        let d = f.tensor_data(odd).unwrap();
        let mut y = [0f32; 3];
        dequantize_row(GgmlType::F32, d, &mut y).unwrap();
        assert_eq!(y, [1.0, 2.0, 3.0]);
    }
}

#[test]
fn exact_bytes_of_a_small_file() {
    let mut w = GgufWriter::new();
    w.set("k", Value::U32(7)).unwrap();
    w.add_tensor(
        "w",
        &[2, 1],
        GgmlType::F32,
        [1.0f32, 2.0].iter().flat_map(|v| v.to_le_bytes()).collect(),
    )
    .unwrap();
    w.add_tensor("v", &[1], GgmlType::F16, vec![0x00, 0x3C])
        .unwrap();
    let got = w.into_bytes().unwrap();

    let mut e = b"GGUF".to_vec();
    e.extend(3u32.to_le_bytes());
    e.extend(2u64.to_le_bytes()); // tensors
    e.extend(1u64.to_le_bytes()); // kv
    e.extend(1u64.to_le_bytes());
    e.extend(b"k");
    e.extend(4u32.to_le_bytes());
    e.extend(7u32.to_le_bytes());
    e.extend(1u64.to_le_bytes());
    e.extend(b"w");
    e.extend(2u32.to_le_bytes());
    e.extend(2u64.to_le_bytes());
    e.extend(1u64.to_le_bytes());
    e.extend(0u32.to_le_bytes());
    e.extend(0u64.to_le_bytes());
    e.extend(1u64.to_le_bytes());
    e.extend(b"v");
    e.extend(1u32.to_le_bytes());
    e.extend(1u64.to_le_bytes());
    e.extend(1u32.to_le_bytes());
    e.extend(32u64.to_le_bytes()); // 8 bytes of "w" padded to 32
    e.resize(e.len().div_ceil(32) * 32, 0);
    e.extend(1.0f32.to_le_bytes());
    e.extend(2.0f32.to_le_bytes());
    e.resize(e.len() + 24, 0);
    e.extend([0x00, 0x3C]);
    e.resize(e.len() + 30, 0);
    assert_eq!(got, e);
}

#[test]
fn lazy_tensors_and_files() {
    let dir = std::env::temp_dir().join(format!("sy-gguf-writer-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("lazy.gguf");
    let mut w = GgufWriter::new();
    w.set("general.architecture", Value::String("qwen2".into()))
        .unwrap();
    w.add_tensor_lazy("a", &[32, 2], GgmlType::Q8_0, || {
        switchyard_gguf::quant::quantize_tensor(GgmlType::Q8_0, &values(64, 5), 32)
    })
    .unwrap();
    w.write_file(&path).unwrap();
    let f = GgufFile::open(&path).unwrap();
    let t = f.tensor("a").unwrap();
    assert_eq!((t.n_elements, t.n_bytes), (64, 68));
    assert_eq!(f.tensor_data(t).unwrap().len(), 68);
    std::fs::remove_dir_all(&dir).unwrap();

    // Lazy data of the wrong size is caught at write time.
    let mut w = GgufWriter::new();
    w.add_tensor_lazy("a", &[32], GgmlType::Q8_0, || Ok(vec![0; 10]))
        .unwrap();
    let e = w.into_bytes().unwrap_err().to_string();
    assert!(e.contains("\"a\"") && e.contains("34"), "{e}");
}

#[test]
fn writer_rejects_what_llama_cpp_would() {
    let mut w = GgufWriter::new();
    let e = w
        .add_tensor("x", &[33], GgmlType::Q8_0, vec![0; 34])
        .unwrap_err();
    assert!(matches!(e, GgufError::Tensor { .. }), "{e}");
    assert!(
        w.add_tensor("x", &[32], GgmlType::Q8_0, vec![0; 33])
            .is_err()
    );
    assert!(
        w.add_tensor("n".repeat(64), &[1], GgmlType::F32, vec![0; 4])
            .is_err()
    );
    assert!(
        w.add_tensor("x", &[1, 1, 1, 1, 1], GgmlType::F32, vec![0; 4])
            .is_err()
    );
    assert!(
        w.add_tensor("x", &[1], GgmlType::Other(99), vec![0; 4])
            .is_err()
    );
    w.add_tensor("x", &[1], GgmlType::F32, vec![0; 4]).unwrap();
    assert!(w.add_tensor("x", &[1], GgmlType::F32, vec![0; 4]).is_err());
    assert!(w.set("general.alignment", Value::U64(32)).is_err());
    assert!(w.set("general.alignment", Value::U32(48)).is_err());
    assert!(w.set("a", Value::Array(vec![])).is_err());
    let e = w
        .set("a", Value::Array(vec![Value::U8(1), Value::I8(1)]))
        .unwrap_err()
        .to_string();
    assert!(e.contains("\"a\"") && e.contains("i8"), "{e}");
    assert!(
        w.set_array("a", ValueType::String, vec![Value::U8(1)])
            .is_err()
    );
    // Setting a key twice replaces it.
    w.set("k", Value::U8(1)).unwrap();
    w.set("k", Value::U8(2)).unwrap();
    let f = GgufFile::from_bytes(w.into_bytes().unwrap()).unwrap();
    assert_eq!(f.metadata().get_u64("k").unwrap(), Some(2));
}
