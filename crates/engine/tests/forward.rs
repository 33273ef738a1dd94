//! Forward-pass tests on tiny seeded models written with the gguf crate's writer.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::tiny::{TinySpec, build, naive_logits};
use std::sync::Arc;
use switchyard_engine::kernels::Isa;
use switchyard_engine::{BatchEntry, EngineError, KvType, Logits, Model, ModelOptions};
use switchyard_gguf::{GgmlType, GgufFile};

/// Optimised vs naive f32 reference: max |Δlogit| as a fraction of the logits' RMS. The
/// optimised path quantises activations as ggml does (f16 for f16 weights, 8-bit for
/// quantised weights), so the bound depends on the weight type.
fn naive_tolerance(t: GgmlType) -> f32 {
    match t {
        GgmlType::F32 => 1e-5,
        GgmlType::F16 | GgmlType::BF16 => 2e-2,
        _ => 0.06,
    }
}

fn load(spec: &TinySpec, threads: usize) -> Model {
    let bytes = build(spec);
    let opts = ModelOptions { threads, isa: None };
    Model::from_gguf(GgufFile::from_bytes(bytes).unwrap(), &opts).unwrap()
}

fn prompt(n: usize, vocab: usize, seed: u32) -> Vec<u32> {
    (0..n as u32)
        .map(|i| (i.wrapping_mul(2654435761).wrapping_add(seed) >> 7) % vocab as u32)
        .collect()
}

fn rms(v: &[f32]) -> f32 {
    (v.iter().map(|x| x * x).sum::<f32>() / v.len() as f32).sqrt()
}

fn assert_bits_eq(a: &[f32], b: &[f32], what: &str) {
    assert_eq!(a.len(), b.len(), "{what}: lengths");
    for (i, (x, y)) in a.iter().zip(b).enumerate() {
        assert_eq!(x.to_bits(), y.to_bits(), "{what}: element {i}: {x} vs {y}");
    }
}

#[test]
fn model_is_send_and_sync() {
    fn check<T: Send + Sync>() {}
    check::<Model>();
    check::<Arc<Model>>();
}

#[test]
fn matches_naive_reference_for_each_arch_and_type() {
    let cases = [
        ("llama", GgmlType::F32, KvType::F32, false, false),
        ("llama", GgmlType::F32, KvType::F32, true, true),
        ("qwen2", GgmlType::F32, KvType::F32, false, false),
        ("qwen3", GgmlType::F32, KvType::F32, true, false),
        ("llama", GgmlType::F16, KvType::F16, false, false),
        ("qwen2", GgmlType::BF16, KvType::F16, false, false),
        ("llama", GgmlType::Q8_0, KvType::F16, false, false),
        ("qwen2", GgmlType::Q4_0, KvType::F16, false, false),
        ("qwen3", GgmlType::Q4_1, KvType::F16, false, false),
        ("llama", GgmlType::Q5_0, KvType::F16, false, false),
        ("qwen2", GgmlType::Q5_1, KvType::F16, false, false),
        ("llama", GgmlType::Q4_K, KvType::F16, false, true),
        ("qwen3", GgmlType::Q5_K, KvType::F16, false, false),
        ("qwen2", GgmlType::Q6_K, KvType::F16, false, false),
    ];
    for (arch, ty, kv, tied, rope_freqs) in cases {
        let mut spec = TinySpec::new(arch, ty);
        spec.tied = tied;
        spec.rope_freqs = rope_freqs;
        let bytes = build(&spec);
        let model = Model::from_gguf(
            GgufFile::from_bytes(bytes.clone()).unwrap(),
            &ModelOptions::default(),
        )
        .unwrap();
        let toks = prompt(12, spec.n_vocab, 5);
        let want = naive_logits(&bytes, &spec, &toks);
        let mut seq = model.new_sequence(kv, 0).unwrap();
        let got = model.forward(&mut seq, &toks, Logits::All).unwrap();
        let nv = model.n_vocab();
        let tol = naive_tolerance(ty);
        for (i, w) in want.iter().enumerate() {
            let g = &got[i * nv..(i + 1) * nv];
            let scale = rms(w);
            let err = g
                .iter()
                .zip(w)
                .map(|(a, b)| (a - b).abs())
                .fold(0.0, f32::max);
            assert!(
                err <= tol * scale,
                "{arch} {ty} kv {kv:?} tied {tied} token {i}: max |Δ| {err} > {tol} × rms {scale}"
            );
        }
    }
}

#[test]
fn prefill_equals_token_by_token_exactly() {
    for (arch, ty) in [
        ("llama", GgmlType::Q4_K),
        ("qwen2", GgmlType::Q8_0),
        ("qwen3", GgmlType::F16),
    ] {
        let spec = TinySpec::new(arch, ty);
        let model = load(&spec, 2);
        let toks = prompt(21, spec.n_vocab, 9);
        let mut a = model.new_sequence(KvType::F16, 0).unwrap();
        let batched = model.forward(&mut a, &toks, Logits::All).unwrap();
        let mut b = model.new_sequence(KvType::F16, 0).unwrap();
        let mut single = Vec::new();
        for t in &toks {
            single.extend(model.forward(&mut b, &[*t], Logits::All).unwrap());
        }
        assert_bits_eq(
            &batched,
            &single,
            &format!("{arch} {ty} prefill vs one by one"),
        );
        // Split prefill (7 + 14) then Last gives the last row of the above.
        let mut c = model.new_sequence(KvType::F16, 0).unwrap();
        model.forward(&mut c, &toks[..7], Logits::None).unwrap();
        let last = model.forward(&mut c, &toks[7..], Logits::Last).unwrap();
        let nv = model.n_vocab();
        assert_bits_eq(
            &last,
            &batched[(toks.len() - 1) * nv..],
            "split prefill, last row",
        );
        assert_eq!(c.tokens(), toks.as_slice());
        assert_eq!(c.len(), toks.len());
    }
}

#[test]
fn results_do_not_depend_on_thread_count() {
    let spec = TinySpec::new("llama", GgmlType::Q5_0);
    let toks = prompt(10, spec.n_vocab, 3);
    let run = |threads| {
        let m = load(&spec, threads);
        let mut s = m.new_sequence(KvType::F16, 0).unwrap();
        m.forward(&mut s, &toks, Logits::All).unwrap()
    };
    assert_bits_eq(&run(1), &run(3), "1 vs 3 threads");
}

#[test]
fn interleaved_sequences_match_separate_runs() {
    let spec = TinySpec::new("qwen2", GgmlType::Q4_0);
    let model = Arc::new(load(&spec, 2));
    let p1 = prompt(9, spec.n_vocab, 1);
    let p2 = prompt(6, spec.n_vocab, 2);
    let solo = |p: &[u32]| {
        let mut s = model.new_sequence(KvType::F16, 0).unwrap();
        let mut out = model.forward(&mut s, &p[..4], Logits::Last).unwrap();
        for t in &p[4..] {
            out.extend(model.forward(&mut s, &[*t], Logits::Last).unwrap());
        }
        out
    };
    let (want1, want2) = (solo(&p1), solo(&p2));
    // Interleaved: both prompts' first 4 tokens in one batched call, then alternating steps,
    // some of them batched together.
    let mut s1 = model.new_sequence(KvType::F16, 0).unwrap();
    let mut s2 = model.new_sequence(KvType::F16, 0).unwrap();
    let mut got1 = Vec::new();
    let mut got2 = Vec::new();
    {
        let mut batch = [
            BatchEntry {
                seq: &mut s1,
                tokens: &p1[..4],
            },
            BatchEntry {
                seq: &mut s2,
                tokens: &p2[..4],
            },
        ];
        let out = model.forward_batch(&mut batch, Logits::Last).unwrap();
        got1.extend(&out[0]);
        got2.extend(&out[1]);
    }
    for i in 4..p1.len() {
        if i < p2.len() && i % 2 == 0 {
            let mut batch = [
                BatchEntry {
                    seq: &mut s2,
                    tokens: &p2[i..i + 1],
                },
                BatchEntry {
                    seq: &mut s1,
                    tokens: &p1[i..i + 1],
                },
            ];
            let out = model.forward_batch(&mut batch, Logits::Last).unwrap();
            got2.extend(&out[0]);
            got1.extend(&out[1]);
        } else {
            got1.extend(model.forward(&mut s1, &p1[i..i + 1], Logits::Last).unwrap());
            if i < p2.len() {
                got2.extend(model.forward(&mut s2, &p2[i..i + 1], Logits::Last).unwrap());
            }
        }
    }
    assert_bits_eq(&got1, &want1, "sequence 1");
    assert_bits_eq(&got2, &want2, "sequence 2");
}

#[test]
fn sequences_on_threads_share_one_model() {
    let spec = TinySpec::new("llama", GgmlType::Q8_0);
    let model = Arc::new(load(&spec, 1));
    let p = prompt(8, spec.n_vocab, 4);
    let mut s = model.new_sequence(KvType::F32, 0).unwrap();
    let want = model.forward(&mut s, &p, Logits::Last).unwrap();
    let handles: Vec<_> = (0..3)
        .map(|_| {
            let (m, p) = (Arc::clone(&model), p.clone());
            std::thread::spawn(move || {
                let mut s = m.new_sequence(KvType::F32, 0).unwrap();
                m.forward(&mut s, &p, Logits::Last).unwrap()
            })
        })
        .collect();
    for h in handles {
        assert_bits_eq(&h.join().unwrap(), &want, "thread");
    }
}

/// `Model::awake` keeps the pool's other workers polling during a forward pass; several
/// callers at once (each with its own pollers, some landing on another caller's thread) must
/// all finish with the results of a lone caller.
#[test]
fn decode_steps_from_several_callers_share_a_polling_pool() {
    let spec = TinySpec::new("qwen2", GgmlType::Q4_K);
    let model = Arc::new(load(&spec, 3));
    let p = prompt(12, spec.n_vocab, 5);
    let steps = |m: &Model| {
        let mut s = m.new_sequence(KvType::F16, 0).unwrap();
        let mut out = m.forward(&mut s, &p[..4], Logits::Last).unwrap();
        for t in &p[4..] {
            out.extend(m.forward(&mut s, &[*t], Logits::Last).unwrap());
        }
        out
    };
    let want = steps(&model);
    std::thread::scope(|sc| {
        let handles: Vec<_> = (0..4).map(|_| sc.spawn(|| steps(&model))).collect();
        for h in handles {
            assert_bits_eq(&h.join().unwrap(), &want, "caller");
        }
    });
}

#[test]
fn truncate_rewinds_a_sequence() {
    let spec = TinySpec::new("qwen3", GgmlType::Q6_K);
    let model = load(&spec, 2);
    let p = prompt(10, spec.n_vocab, 8);
    let mut s = model.new_sequence(KvType::F16, 0).unwrap();
    let want = model.forward(&mut s, &p, Logits::Last).unwrap();
    s.truncate(6);
    assert_eq!(s.len(), 6);
    assert_eq!(s.tokens(), &p[..6]);
    let again = model.forward(&mut s, &p[6..], Logits::Last).unwrap();
    assert_bits_eq(&again, &want, "after truncate");
}

#[test]
fn bad_inputs_are_errors_and_leave_the_sequence_unchanged() {
    let spec = TinySpec::new("llama", GgmlType::Q8_0);
    let model = load(&spec, 1);
    let mut s = model.new_sequence(KvType::F16, 16).unwrap();
    model.forward(&mut s, &[1, 2, 3], Logits::None).unwrap();
    let e = model.forward(&mut s, &[5, 9999], Logits::Last).unwrap_err();
    assert!(
        matches!(e, EngineError::BadToken { token: 9999, .. }),
        "{e}"
    );
    let e = model.forward(&mut s, &[1; 14], Logits::Last).unwrap_err();
    assert!(
        matches!(
            e,
            EngineError::ContextFull {
                needed: 17,
                n_ctx: 16
            }
        ),
        "{e}"
    );
    assert!(model.forward(&mut s, &[], Logits::Last).is_err());
    assert_eq!(s.len(), 3);
    assert!(model.new_sequence(KvType::F16, spec.n_ctx + 1).is_err());
    let other = load(
        &TinySpec {
            n_layer: 3,
            ..TinySpec::new("llama", GgmlType::Q8_0)
        },
        1,
    );
    let mut foreign = other.new_sequence(KvType::F16, 0).unwrap();
    assert!(model.forward(&mut foreign, &[1], Logits::Last).is_err());
}

#[test]
fn broken_files_are_errors_naming_the_problem() {
    let spec = TinySpec::new("llama", GgmlType::Q8_0);
    let bytes = build(&spec);
    // Truncated.
    let cut = bytes[..bytes.len() - 100].to_vec();
    let err = GgufFile::from_bytes(cut)
        .map_err(EngineError::from)
        .and_then(|f| Model::from_gguf(f, &ModelOptions::default()).map(|_| ()));
    assert!(err.is_err());
    // Wrong architecture / missing tensors, built with the writer.
    use switchyard_gguf::{GgufWriter, Value};
    let mut w = GgufWriter::new();
    w.set("general.architecture", Value::String("gpt2".into()))
        .unwrap();
    let f = GgufFile::from_bytes(w.into_bytes().unwrap()).unwrap();
    let e = Model::from_gguf(f, &ModelOptions::default()).unwrap_err();
    assert!(e.to_string().contains("gpt2"), "{e}");
    let mut w = GgufWriter::new();
    w.set("general.architecture", Value::String("llama".into()))
        .unwrap();
    for (k, v) in [
        ("embedding_length", 64u32),
        ("block_count", 1),
        ("feed_forward_length", 128),
        ("attention.head_count", 4),
        ("context_length", 32),
    ] {
        w.set(format!("llama.{k}"), Value::U32(v)).unwrap();
    }
    let f = GgufFile::from_bytes(w.into_bytes().unwrap()).unwrap();
    let e = Model::from_gguf(f, &ModelOptions::default()).unwrap_err();
    assert!(e.to_string().contains("layer_norm_rms_epsilon"), "{e}");
    let mut w = GgufWriter::new();
    w.set("general.architecture", Value::String("llama".into()))
        .unwrap();
    for (k, v) in [
        ("embedding_length", 64u32),
        ("block_count", 1),
        ("feed_forward_length", 128),
        ("attention.head_count", 4),
        ("attention.head_count_kv", 3),
        ("context_length", 32),
    ] {
        w.set(format!("llama.{k}"), Value::U32(v)).unwrap();
    }
    w.set("llama.attention.layer_norm_rms_epsilon", Value::F32(1e-5))
        .unwrap();
    let f = GgufFile::from_bytes(w.into_bytes().unwrap()).unwrap();
    let e = Model::from_gguf(f, &ModelOptions::default()).unwrap_err();
    assert!(e.to_string().contains("head_count_kv"), "{e}");
    // Metadata fine, tensors missing.
    let mut w = GgufWriter::new();
    w.set("general.architecture", Value::String("llama".into()))
        .unwrap();
    for (k, v) in [
        ("embedding_length", 64u32),
        ("block_count", 1),
        ("feed_forward_length", 128),
        ("attention.head_count", 4),
        ("context_length", 32),
    ] {
        w.set(format!("llama.{k}"), Value::U32(v)).unwrap();
    }
    w.set("llama.attention.layer_norm_rms_epsilon", Value::F32(1e-5))
        .unwrap();
    let f = GgufFile::from_bytes(w.into_bytes().unwrap()).unwrap();
    let e = Model::from_gguf(f, &ModelOptions::default()).unwrap_err();
    assert!(e.to_string().contains("token_embd.weight"), "{e}");
}

#[test]
fn scalar_and_simd_models_agree() {
    let spec = TinySpec::new("llama", GgmlType::Q4_K);
    let bytes = build(&spec);
    let toks = prompt(8, spec.n_vocab, 6);
    let mut outs = Vec::new();
    for isa in Isa::available() {
        let m = Model::from_gguf(
            GgufFile::from_bytes(bytes.clone()).unwrap(),
            &ModelOptions {
                threads: 2,
                isa: Some(isa),
            },
        )
        .unwrap();
        let mut s = m.new_sequence(KvType::F16, 0).unwrap();
        outs.push((isa, m.forward(&mut s, &toks, Logits::All).unwrap()));
    }
    let (_, base) = &outs[0];
    for (isa, o) in &outs[1..] {
        let err = o
            .iter()
            .zip(base)
            .map(|(a, b)| (a - b).abs())
            .fold(0.0, f32::max);
        assert!(err <= 1e-3 * rms(base), "{isa:?}: max |Δ| {err}");
    }
}

/// The scalar kernel set and the AVX2 one follow the same llama.cpp build's arithmetic (every
/// quantised dot product, SwiGLU, softmax and attention sum in ggml's order), so a whole forward
/// pass gives bit-identical logits on both, for every type whose kernels are exact.
#[cfg(target_arch = "x86_64")]
#[test]
fn scalar_and_avx2_forward_passes_are_identical() {
    use switchyard_engine::kernels::x86::X86Level;
    if !X86Level::Avx2.supported() {
        eprintln!("no AVX2: skipped");
        return;
    }
    for (arch, ty, kv) in [
        ("llama", GgmlType::Q8_0, KvType::F16),
        ("qwen2", GgmlType::Q4_0, KvType::F32),
        ("qwen3", GgmlType::Q4_1, KvType::F16),
        ("qwen2", GgmlType::Q5_0, KvType::F16),
        ("llama", GgmlType::Q5_1, KvType::F32),
        ("qwen2", GgmlType::Q4_K, KvType::F16),
        ("llama", GgmlType::Q6_K, KvType::F16),
    ] {
        let spec = TinySpec::new(arch, ty);
        let bytes = build(&spec);
        let toks = prompt(19, spec.n_vocab, 4);
        let run = |isa| {
            let opts = ModelOptions {
                threads: 2,
                isa: Some(isa),
            };
            let m = Model::from_gguf(GgufFile::from_bytes(bytes.clone()).unwrap(), &opts).unwrap();
            let mut s = m.new_sequence(kv, 0).unwrap();
            m.forward(&mut s, &toks, Logits::All).unwrap()
        };
        assert_bits_eq(
            &run(Isa::Scalar),
            &run(Isa::X86(X86Level::Avx2)),
            &format!("{arch} {ty} kv {kv:?}: scalar vs AVX2"),
        );
    }
}

/// `forward_traced` hands over every intermediate activation under llama.cpp's node names, with
/// whole rows, and returns the same logits as `forward`.
#[test]
fn traced_forward_names_every_step() {
    let spec = TinySpec::new("qwen2", GgmlType::Q8_0);
    let model = load(&spec, 2);
    let toks = prompt(5, spec.n_vocab, 8);
    let mut seen: Vec<(String, usize)> = Vec::new();
    let mut s = model.new_sequence(KvType::F16, 0).unwrap();
    let traced = model
        .forward_traced(&mut s, &toks, Logits::All, &mut |name, data| {
            seen.push((name.to_string(), data.len()))
        })
        .unwrap();
    let mut t = model.new_sequence(KvType::F16, 0).unwrap();
    assert_bits_eq(
        &traced,
        &model.forward(&mut t, &toks, Logits::All).unwrap(),
        "traced vs plain",
    );
    let width = |name: &str| seen.iter().find(|(n, _)| n == name).map(|(_, w)| *w);
    let n = toks.len();
    assert_eq!(width("inp_embd"), Some(n * spec.n_embd));
    assert_eq!(width("Kcur-1"), Some(n * spec.n_head_kv * spec.head_dim()));
    assert_eq!(width("ffn_swiglu-0"), Some(n * spec.n_ff));
    assert_eq!(width("result_output"), Some(n * spec.n_vocab));
    assert_eq!(seen.first().map(|(n, _)| n.as_str()), Some("inp_embd"));
    assert_eq!(seen.last().map(|(n, _)| n.as_str()), Some("result_output"));
    // 15 per layer, plus the embeddings, the final norm and the output.
    assert_eq!(seen.len(), 15 * spec.n_layer + 3);
}
