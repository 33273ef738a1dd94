//! Deterministic tiny GGUF models for tests and conformance scripts.
//!
//! [`write_fixture`] writes a small `llama` or `qwen2` model with seeded random weights and a
//! real vocabulary: every `tokenizer.*` key is copied from a vocabulary GGUF (such as
//! `../shared/vocab/ggml-vocab-llama-bpe.gguf`). A file without `tokenizer.chat_template` gets
//! the built-in template for its format (Llama 3 for `llama`, ChatML for `qwen2`).
//!
//! The output embedding is tied to the token embedding (no `output.weight`), which keeps a
//! 128k-token file small, and the output norm is scaled so that the logits have a standard
//! deviation of roughly 15: the gap between the two best tokens is then usually several units,
//! so greedy decisions do not hinge on rounding (tests check the margin).

use std::path::Path;

use switchyard_gguf::{GgmlType, GgufError, GgufFile, GgufWriter, Value, ValueType};
use switchyard_template::FallbackKind;

/// What to write.
#[derive(Debug, Clone)]
pub struct FixtureSpec {
    /// `llama` or `qwen2`.
    pub arch: &'static str,
    /// Type of the matrices (F32, F16, Q8_0, …; the token embedding too).
    pub wtype: GgmlType,
    pub n_embd: usize,
    pub n_layer: usize,
    pub n_head: usize,
    pub n_head_kv: usize,
    pub n_ff: usize,
    /// `context_length`.
    pub n_ctx: usize,
    pub seed: u64,
}

impl FixtureSpec {
    /// A 2-layer, 64-wide model of `arch` with `wtype` matrices and a 256-token context.
    pub fn tiny(arch: &'static str, wtype: GgmlType) -> FixtureSpec {
        FixtureSpec {
            arch,
            wtype,
            n_embd: 64,
            n_layer: 2,
            n_head: 4,
            n_head_kv: 2,
            n_ff: 128,
            n_ctx: 256,
            seed: 0x5eed,
        }
    }
}

/// splitmix64: a tiny, portable generator, so the same seed writes the same bytes everywhere.
struct SplitMix(u64);

impl SplitMix {
    fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
    /// Uniform in [-1, 1).
    fn f32(&mut self) -> f32 {
        ((self.next_u64() >> 40) as f32 / (1u64 << 24) as f32) * 2.0 - 1.0
    }
    fn vec(&mut self, n: usize, scale: f32) -> Vec<f32> {
        (0..n).map(|_| self.f32() * scale).collect()
    }
}

fn werr(msg: String) -> GgufError {
    GgufError::Writer(msg)
}

/// Writes the fixture model for `spec` with the vocabulary of `vocab` to `out`.
pub fn write_fixture(spec: &FixtureSpec, vocab: &Path, out: &Path) -> Result<(), GgufError> {
    let vocab_file = GgufFile::open(vocab)?;
    let md = vocab_file.metadata();
    let n_vocab = md
        .get_array("tokenizer.ggml.tokens")?
        .map(<[Value]>::len)
        .ok_or_else(|| werr(format!("{}: no tokenizer.ggml.tokens", vocab.display())))?;
    let a = spec.arch;
    if !matches!(a, "llama" | "qwen2") {
        return Err(werr(format!("fixture architecture {a:?} (llama, qwen2)")));
    }
    let mut w = GgufWriter::new();
    let u = |v: usize| Value::U32(u32::try_from(v).unwrap_or(u32::MAX));
    w.set("general.architecture", Value::String(a.into()))?;
    w.set(
        "general.name",
        Value::String(format!("switchyard-fixture-{a}-{}", spec.wtype)),
    )?;
    w.set(format!("{a}.embedding_length"), u(spec.n_embd))?;
    w.set(format!("{a}.block_count"), u(spec.n_layer))?;
    w.set(format!("{a}.feed_forward_length"), u(spec.n_ff))?;
    w.set(format!("{a}.attention.head_count"), u(spec.n_head))?;
    w.set(format!("{a}.attention.head_count_kv"), u(spec.n_head_kv))?;
    w.set(format!("{a}.context_length"), u(spec.n_ctx))?;
    w.set(format!("{a}.rope.freq_base"), Value::F32(10000.0))?;
    w.set(
        format!("{a}.attention.layer_norm_rms_epsilon"),
        Value::F32(1e-6),
    )?;
    w.set(format!("{a}.vocab_size"), u(n_vocab))?;
    for (key, value) in md.iter() {
        if !key.starts_with("tokenizer.") {
            continue;
        }
        match value {
            Value::Array(items) => {
                let elem = items.first().map_or(ValueType::String, Value::value_type);
                w.set_array(key, elem, items.clone())?;
            }
            other => w.set(key, other.clone())?,
        }
    }
    if md.get_str("tokenizer.chat_template")?.is_none() {
        let kind = if a == "llama" {
            FallbackKind::Llama3
        } else {
            FallbackKind::ChatMl
        };
        w.set(
            "tokenizer.chat_template",
            Value::String(kind.source().to_string()),
        )?;
    }

    let mut rng = SplitMix(spec.seed);
    let (e, ff) = (spec.n_embd, spec.n_ff);
    let hd = e / spec.n_head.max(1);
    let (q, kv) = (spec.n_head * hd, spec.n_head_kv * hd);
    let s = 1.0 / (e as f32).sqrt();
    let t = spec.wtype;
    let dims = |k: usize, n: usize| [k as u64, n as u64];
    let emb = rng.vec(e * n_vocab, 1.0);
    w.add_tensor_f32("token_embd.weight", &dims(e, n_vocab), t, &emb)?;
    drop(emb);
    // |E row| ≈ 0.58·√e and |h| ≈ 3.2·√e: logits have a standard deviation near 15.
    let out_norm: Vec<f32> = (0..e).map(|_| 3.2 + 0.3 * rng.f32()).collect();
    w.add_tensor_f32("output_norm.weight", &[e as u64], GgmlType::F32, &out_norm)?;
    for l in 0..spec.n_layer {
        let n = |x: &str| format!("blk.{l}.{x}");
        let norm = |rng: &mut SplitMix, len: usize| -> Vec<f32> {
            (0..len).map(|_| 1.0 + 0.2 * rng.f32()).collect()
        };
        let v = norm(&mut rng, e);
        w.add_tensor_f32(n("attn_norm.weight"), &[e as u64], GgmlType::F32, &v)?;
        let v = norm(&mut rng, e);
        w.add_tensor_f32(n("ffn_norm.weight"), &[e as u64], GgmlType::F32, &v)?;
        if a == "qwen2" {
            for (name, len) in [("attn_q.bias", q), ("attn_k.bias", kv), ("attn_v.bias", kv)] {
                let v = rng.vec(len, 0.5);
                w.add_tensor_f32(n(name), &[len as u64], GgmlType::F32, &v)?;
            }
        }
        let mats = [
            ("attn_q.weight", e, q, 3.0 * s),
            ("attn_k.weight", e, kv, 3.0 * s),
            ("attn_v.weight", e, kv, 1.5 * s),
            ("attn_output.weight", q, e, 1.5 * s),
            ("ffn_gate.weight", e, ff, 1.5 * s),
            ("ffn_up.weight", e, ff, 1.5 * s),
            ("ffn_down.weight", ff, e, 1.5 / (ff as f32).sqrt()),
        ];
        for (name, k, rows, scale) in mats {
            let v = rng.vec(k * rows, scale);
            w.add_tensor_f32(n(name), &dims(k, rows), t, &v)?;
        }
    }
    w.write_file(out)
}
