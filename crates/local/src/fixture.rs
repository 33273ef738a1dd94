//! Deterministic tiny GGUF models for tests and conformance scripts.
//!
//! [`write_fixture`] writes a small `llama` or `qwen2` model with seeded random weights and a
//! real vocabulary: every `tokenizer.*` key is copied from a vocabulary GGUF (such as
//! `../shared/vocab/ggml-vocab-llama-bpe.gguf`). A file without `tokenizer.chat_template` gets
//! the built-in template for its format (Llama 3 for `llama`, ChatML for `qwen2`).
//!
//! By default the output embedding is tied to the token embedding (no `output.weight`), which
//! keeps a 128k-token file small (see [`FixtureSpec::tied_output`]), and the output norm is scaled so that the logits have a standard
//! deviation of roughly 15: the gap between the two best tokens is then usually several units,
//! so greedy decisions do not hinge on rounding (tests check the margin).
//!
//! [`WeightMix::Q4KM`] reproduces the tensor types of llama.cpp's `Q4_K_M` file type (see
//! [`FixtureSpec::q4_k_m`]).

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
    /// How each tensor's type is chosen from `wtype`.
    pub mix: WeightMix,
    /// Tie the output matrix to the token embedding (no `output.weight`). With a tied output
    /// a token's own embedding dominates its logits, so greedy decoding soon repeats one
    /// token; a separate random output matrix gives long, varied greedy continuations.
    pub tied_output: bool,
    /// Scale of `attn_q` / `attn_k` (times 1/√n_embd). Larger values make attention peakier,
    /// and the model more sensitive to rounding.
    pub qk_scale: f32,
}

/// How the matrices' types are chosen.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum WeightMix {
    /// Every matrix, the token embedding included, is `wtype`.
    #[default]
    Uniform,
    /// llama.cpp's `Q4_K_M` rules (`llama_tensor_get_type`): Q4_K by default; Q6_K for the
    /// output matrix (the token embedding when it is tied) and for `attn_v` / `ffn_down` of the
    /// layers llama.cpp's `use_more_bits` picks. A row whose width is not a multiple of 256
    /// falls back as llama.cpp does: Q4_K to Q5_0, Q6_K to Q8_0. `wtype` is ignored.
    Q4KM,
}

impl WeightMix {
    /// The type of a matrix named `name` (`attn_v.weight`, …) in `layer` of `n_layer`, with
    /// rows of `row_len` values, for a file whose nominal type is `wtype` (`tied`: the token
    /// embedding is also the output matrix).
    pub fn tensor_type(
        self,
        wtype: GgmlType,
        name: &str,
        layer: Option<usize>,
        n_layer: usize,
        row_len: usize,
        tied: bool,
    ) -> GgmlType {
        let WeightMix::Q4KM = self else {
            return wtype;
        };
        // llama.cpp's use_more_bits: the first and last eighth, and every third layer between.
        let more_bits = |i: usize| {
            let n8 = n_layer / 8;
            i < n8 || i >= 7 * n_layer / 8 || (i - n8) % 3 == 2
        };
        let ty = match (name, layer) {
            ("output.weight", _) => GgmlType::Q6_K,
            ("token_embd.weight", _) if tied => GgmlType::Q6_K,
            ("attn_v.weight" | "ffn_down.weight", Some(i)) if more_bits(i) => GgmlType::Q6_K,
            _ => GgmlType::Q4_K,
        };
        if row_len.is_multiple_of(256) {
            ty
        } else if ty == GgmlType::Q6_K {
            GgmlType::Q8_0
        } else {
            GgmlType::Q5_0
        }
    }

    fn label(self, wtype: GgmlType) -> String {
        match self {
            WeightMix::Uniform => wtype.to_string(),
            WeightMix::Q4KM => "Q4_K_M".into(),
        }
    }
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
            mix: WeightMix::Uniform,
            tied_output: true,
            qk_scale: 3.0,
        }
    }

    /// The fixtures the conformance script compares with llama.cpp and
    /// `tests/conformance.rs` checks against its goldens, by file type name (`f32`, `f16`,
    /// `q8_0`, `q4_k_m`): [`FixtureSpec::tiny`] (or [`FixtureSpec::q4_k_m`]) with a separate
    /// output matrix.
    pub fn conformance(arch: &'static str, file_type: &str) -> Option<FixtureSpec> {
        let spec = match file_type {
            "f32" => FixtureSpec::tiny(arch, GgmlType::F32),
            "f16" => FixtureSpec::tiny(arch, GgmlType::F16),
            "q8_0" => FixtureSpec::tiny(arch, GgmlType::Q8_0),
            "q4_k_m" => FixtureSpec::q4_k_m(arch),
            _ => return None,
        };
        Some(FixtureSpec {
            tied_output: false,
            ..spec
        })
    }

    /// A 2-layer, 256-wide model of `arch` with llama.cpp's `Q4_K_M` mix: the width and the
    /// FFN width (512) are multiples of 256, so the K-quants are used, not their fallbacks.
    pub fn q4_k_m(arch: &'static str) -> FixtureSpec {
        FixtureSpec {
            n_embd: 256,
            n_ff: 512,
            mix: WeightMix::Q4KM,
            ..FixtureSpec::tiny(arch, GgmlType::Q4_K)
        }
    }

    /// The name of the file type: the tensor type, or `Q4_K_M`.
    pub fn type_label(&self) -> String {
        self.mix.label(self.wtype)
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
        Value::String(format!("switchyard-fixture-{a}-{}", spec.type_label())),
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
    let ty = |name: &str, layer: Option<usize>, row_len: usize| {
        let tied = spec.tied_output;
        spec.mix
            .tensor_type(spec.wtype, name, layer, spec.n_layer, row_len, tied)
    };
    let dims = |k: usize, n: usize| [k as u64, n as u64];
    let emb = rng.vec(e * n_vocab, 1.0);
    let t = ty("token_embd.weight", None, e);
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
            ("attn_q.weight", e, q, spec.qk_scale * s),
            ("attn_k.weight", e, kv, spec.qk_scale * s),
            ("attn_v.weight", e, kv, 1.5 * s),
            ("attn_output.weight", q, e, 1.5 * s),
            ("ffn_gate.weight", e, ff, 1.5 * s),
            ("ffn_up.weight", e, ff, 1.5 * s),
            ("ffn_down.weight", ff, e, 1.5 / (ff as f32).sqrt()),
        ];
        for (name, k, rows, scale) in mats {
            let v = rng.vec(k * rows, scale);
            let t = ty(name, Some(l), k);
            w.add_tensor_f32(n(name), &dims(k, rows), t, &v)?;
        }
    }
    if !spec.tied_output {
        // Drawn last, so tied files keep their bytes.
        let out = rng.vec(e * n_vocab, 1.0);
        let t = ty("output.weight", None, e);
        w.add_tensor_f32("output.weight", &dims(e, n_vocab), t, &out)?;
    }
    w.write_file(out)
}
