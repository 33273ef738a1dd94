//! End-to-end speed at real model shapes with random weights: prompt processing of `-p` tokens
//! in one batch, then `-n` generated tokens one at a time (as `llama-bench`).
//!
//! `cargo run --release -p switchyard-engine --example model_bench -- llama1b|qwen05b q8_0|q4_k_m [threads] [p] [n]`
//!
//! The GGUF (random quants, small scales) is written once under the temp directory.
//!
//! `model_bench write llama1b|qwen05b q8_0|q4_k_m VOCAB.gguf OUT.gguf` only writes a file, for
//! comparisons with llama.cpp (`scripts/bench/engine.sh`): it copies the `tokenizer.*` keys of
//! a vocabulary GGUF (so that llama.cpp loads it), sizes the embedding by that vocabulary, and
//! picks Q4_K_M tensor types by llama.cpp's rules (`llama_tensor_get_type`).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::time::Instant;
use switchyard_engine::{KvType, Logits, Model, ModelOptions};
use switchyard_gguf::{GgmlType, GgufFile, GgufWriter, Value, ValueType};

struct Shape {
    arch: &'static str,
    e: usize,
    layers: usize,
    heads: usize,
    kv_heads: usize,
    ff: usize,
    vocab: usize,
    tied: bool,
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.get(1).map(String::as_str) == Some("write") {
        let [shape_name, quant, vocab, out] = [2, 3, 4, 5].map(|i| {
            args.get(i)
                .unwrap_or_else(|| panic!("usage: model_bench write SHAPE QUANT VOCAB OUT"))
                .as_str()
        });
        let vocab = GgufFile::open(vocab).unwrap();
        let path = std::path::Path::new(out);
        write_model(&shape_of(shape_name), quant, path, Some(&vocab));
        eprintln!("wrote {}", path.display());
        return;
    }
    let shape_name = args.get(1).map_or("llama1b", |s| s.as_str());
    let quant = args.get(2).map_or("q4_k_m", |s| s.as_str());
    let threads: usize = args.get(3).and_then(|s| s.parse().ok()).unwrap_or(2);
    let p: usize = args.get(4).and_then(|s| s.parse().ok()).unwrap_or(512);
    let n: usize = args.get(5).and_then(|s| s.parse().ok()).unwrap_or(128);
    let shape = shape_of(shape_name);
    let path = std::env::temp_dir().join(format!("switchyard-bench-{shape_name}-{quant}.gguf"));
    if !path.exists() {
        eprintln!("writing {}", path.display());
        write_model(&shape, quant, &path, None);
    }
    bench(&shape, shape_name, quant, &path, threads, p, n);
}

fn shape_of(shape_name: &str) -> Shape {
    match shape_name {
        "llama1b" => Shape {
            arch: "llama",
            e: 2048,
            layers: 16,
            heads: 32,
            kv_heads: 8,
            ff: 8192,
            vocab: 128256,
            tied: true,
        },
        "qwen05b" => Shape {
            arch: "qwen2",
            e: 896,
            layers: 24,
            heads: 14,
            kv_heads: 2,
            ff: 4864,
            vocab: 151936,
            tied: true,
        },
        other => panic!("unknown shape {other}"),
    }
}

fn bench(
    shape: &Shape,
    shape_name: &str,
    quant: &str,
    path: &std::path::Path,
    threads: usize,
    p: usize,
    n: usize,
) {
    let t = Instant::now();
    let model = Model::load(path, &ModelOptions { threads, isa: None }).unwrap();
    eprintln!("loaded in {:.2}s: {:?}", t.elapsed().as_secs_f64(), model);
    let toks: Vec<u32> = (0..p as u32)
        .map(|i| (i * 7919 + 13) % shape.vocab as u32)
        .collect();
    for rep in 0..2 {
        let mut seq = model.new_sequence(KvType::F16, p + n + 1).unwrap();
        let t = Instant::now();
        let logits = model.forward(&mut seq, &toks, Logits::Last).unwrap();
        let pp = t.elapsed().as_secs_f64();
        let mut next = argmax(&logits);
        let t = Instant::now();
        for _ in 0..n {
            let l = model.forward(&mut seq, &[next], Logits::Last).unwrap();
            next = argmax(&l);
        }
        let tg = t.elapsed().as_secs_f64();
        println!(
            "{shape_name} {quant} t={threads} rep {rep}: pp{p} {:.1} t/s   tg{n} {:.1} t/s",
            p as f64 / pp,
            n as f64 / tg
        );
    }
    if let Ok(s) = std::fs::read_to_string("/proc/self/status") {
        for l in s
            .lines()
            .filter(|l| l.starts_with("VmHWM") || l.starts_with("VmRSS"))
        {
            println!("{l}");
        }
    }
}

fn argmax(v: &[f32]) -> u32 {
    let mut best = 0;
    for (i, x) in v.iter().enumerate() {
        if *x > v[best] {
            best = i;
        }
    }
    best as u32
}

fn write_model(s: &Shape, quant: &str, path: &std::path::Path, vocab: Option<&GgufFile>) {
    let mut w = GgufWriter::new();
    let a = s.arch;
    let u = |v: usize| Value::U32(v as u32);
    w.set("general.architecture", Value::String(a.into()))
        .unwrap();
    w.set(format!("{a}.embedding_length"), u(s.e)).unwrap();
    w.set(format!("{a}.block_count"), u(s.layers)).unwrap();
    w.set(format!("{a}.feed_forward_length"), u(s.ff)).unwrap();
    w.set(format!("{a}.attention.head_count"), u(s.heads))
        .unwrap();
    w.set(format!("{a}.attention.head_count_kv"), u(s.kv_heads))
        .unwrap();
    w.set(format!("{a}.context_length"), u(4096)).unwrap();
    w.set(format!("{a}.rope.freq_base"), Value::F32(500000.0))
        .unwrap();
    w.set(
        format!("{a}.attention.layer_norm_rms_epsilon"),
        Value::F32(1e-5),
    )
    .unwrap();
    let mut n_vocab = s.vocab;
    if let Some(vocab) = vocab {
        let md = vocab.metadata();
        n_vocab = md
            .get_array("tokenizer.ggml.tokens")
            .unwrap()
            .unwrap()
            .len();
        w.set(format!("{a}.vocab_size"), u(n_vocab)).unwrap();
        // llama.cpp's `llama_ftype`: MOSTLY_Q8_0 = 7, MOSTLY_Q4_K_M = 15.
        let ftype = if quant == "q8_0" { 7 } else { 15 };
        w.set("general.file_type", u(ftype)).unwrap();
        for (key, value) in md.iter().filter(|(k, _)| k.starts_with("tokenizer.")) {
            match value {
                Value::Array(items) => {
                    let elem = items.first().map_or(ValueType::String, Value::value_type);
                    w.set_array(key, elem, items.clone()).unwrap();
                }
                other => w.set(key, other.clone()).unwrap(),
            }
        }
    }
    let hd = s.e / s.heads;
    let big_k = s.e.is_multiple_of(256);
    // Roughly llama.cpp's choices: Q4_K_M = Q4_K with Q6_K for attn_v/ffn_down/embeddings;
    // widths not divisible by 256 fall back to Q5_0 / Q8_0.
    let (main, hi) = match (quant, big_k) {
        ("q8_0", _) => (GgmlType::Q8_0, GgmlType::Q8_0),
        ("q4_k_m", true) => (GgmlType::Q4_K, GgmlType::Q6_K),
        ("q4_k_m", false) => (GgmlType::Q5_0, GgmlType::Q8_0),
        (other, _) => panic!("unknown quant {other}"),
    };
    let mut seed = 1u64;
    let mut add = |w: &mut GgufWriter, name: String, k: usize, n: usize, ty: GgmlType| {
        let ty = if vocab.is_some() {
            llama_cpp_type(quant, &name, s.layers, k, s.tied)
        } else {
            ty
        };
        seed += 1;
        let sd = seed;
        w.add_tensor_lazy(name, &[k as u64, n as u64], ty, move || {
            Ok(random_tensor(ty, k, n, sd))
        })
        .unwrap();
    };
    add(&mut w, "token_embd.weight".into(), s.e, n_vocab, hi);
    if !s.tied {
        add(&mut w, "output.weight".into(), s.e, n_vocab, hi);
    }
    let ones = |w: &mut GgufWriter, name: String, n: usize| {
        w.add_tensor_f32(name, &[n as u64], GgmlType::F32, &vec![1.0; n])
            .unwrap();
    };
    ones(&mut w, "output_norm.weight".into(), s.e);
    for l in 0..s.layers {
        let nm = |x: &str| format!("blk.{l}.{x}");
        ones(&mut w, nm("attn_norm.weight"), s.e);
        ones(&mut w, nm("ffn_norm.weight"), s.e);
        if a == "qwen2" {
            ones(&mut w, nm("attn_q.bias"), s.heads * hd);
            ones(&mut w, nm("attn_k.bias"), s.kv_heads * hd);
            ones(&mut w, nm("attn_v.bias"), s.kv_heads * hd);
        }
        add(&mut w, nm("attn_q.weight"), s.e, s.heads * hd, main);
        add(&mut w, nm("attn_k.weight"), s.e, s.kv_heads * hd, main);
        add(&mut w, nm("attn_v.weight"), s.e, s.kv_heads * hd, hi);
        add(&mut w, nm("attn_output.weight"), s.heads * hd, s.e, main);
        add(&mut w, nm("ffn_gate.weight"), s.e, s.ff, main);
        add(&mut w, nm("ffn_up.weight"), s.e, s.ff, main);
        let down = if s.ff.is_multiple_of(256) {
            hi
        } else {
            GgmlType::Q8_0
        };
        add(
            &mut w,
            nm("ffn_down.weight"),
            s.ff,
            s.e,
            if l % 2 == 0 {
                down
            } else {
                main_for(main, s.ff)
            },
        );
    }
    w.write_file(path).unwrap();
}

/// llama.cpp's type for tensor `name` (`blk.N.attn_v.weight`, …) with rows of `row_len` in a
/// `q8_0` or `q4_k_m` file of `n_layer` layers (`llama_tensor_get_type`): Q4_K_M is Q4_K, with
/// Q6_K for the output matrix (the token embedding when tied) and for `attn_v` / `ffn_down` in
/// the layers `use_more_bits` picks; rows not a multiple of 256 fall back to Q5_0 / Q8_0.
fn llama_cpp_type(quant: &str, name: &str, n_layer: usize, row_len: usize, tied: bool) -> GgmlType {
    if quant == "q8_0" {
        return GgmlType::Q8_0;
    }
    assert_eq!(quant, "q4_k_m", "unknown quant {quant}");
    let mut parts = name.splitn(3, '.');
    let layer = match (parts.next(), parts.next(), parts.next()) {
        (Some("blk"), Some(i), Some(rest)) => Some((i.parse::<usize>().unwrap(), rest)),
        _ => None,
    };
    let more_bits = |i: usize| {
        let n8 = n_layer / 8;
        i < n8 || i >= 7 * n_layer / 8 || (i - n8) % 3 == 2
    };
    let ty = match (name, layer) {
        ("output.weight", _) => GgmlType::Q6_K,
        ("token_embd.weight", _) if tied => GgmlType::Q6_K,
        (_, Some((i, "attn_v.weight" | "ffn_down.weight"))) if more_bits(i) => GgmlType::Q6_K,
        _ => GgmlType::Q4_K,
    };
    match ty {
        _ if row_len.is_multiple_of(256) => ty,
        GgmlType::Q6_K => GgmlType::Q8_0,
        _ => GgmlType::Q5_0,
    }
}

fn main_for(main: GgmlType, k: usize) -> GgmlType {
    if !k.is_multiple_of(256) && matches!(main, GgmlType::Q4_K | GgmlType::Q6_K) {
        GgmlType::Q5_0
    } else {
        main
    }
}

fn random_tensor(ty: GgmlType, k: usize, n: usize, seed: u64) -> Vec<u8> {
    let (bs, ts) = (ty.block_size(), ty.type_size());
    let bytes = k / bs * ts * n;
    let mut x = seed.wrapping_mul(0x9E3779B97F4A7C15) | 1;
    let mut v = Vec::with_capacity(bytes);
    while v.len() < bytes {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        v.extend_from_slice(&x.to_le_bytes());
    }
    v.truncate(bytes);
    let small = half::f16::from_f32(0.002).to_le_bytes();
    let fields: &[usize] = match ty {
        GgmlType::Q6_K => &[208],
        GgmlType::Q4_K | GgmlType::Q5_K => &[0, 2],
        _ => &[0],
    };
    for b in v.chunks_exact_mut(ts) {
        for &f in fields {
            b[f..f + 2].copy_from_slice(&small);
        }
    }
    v
}
