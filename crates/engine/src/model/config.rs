//! Hyperparameters read from GGUF metadata, checked once per architecture.

use crate::EngineError;
use switchyard_gguf::Metadata;

/// Architectures the runner implements.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Arch {
    /// Llama 2/3.x, Mistral, SmolLM, TinyLlama: RoPE in normal (interleaved-pair) order.
    Llama,
    /// Qwen2/2.5: NeoX RoPE, q/k/v biases.
    Qwen2,
    /// Qwen3: NeoX RoPE, per-head RMS norm on q and k.
    Qwen3,
}

impl Arch {
    pub fn name(self) -> &'static str {
        match self {
            Arch::Llama => "llama",
            Arch::Qwen2 => "qwen2",
            Arch::Qwen3 => "qwen3",
        }
    }

    /// NeoX RoPE rotates `(x[i], x[i + n_rot/2])`; normal RoPE rotates `(x[2i], x[2i+1])`.
    pub fn rope_neox(self) -> bool {
        !matches!(self, Arch::Llama)
    }
}

/// Model hyperparameters.
#[derive(Debug, Clone, PartialEq)]
pub struct Hparams {
    pub arch: Arch,
    pub n_embd: usize,
    pub n_layer: usize,
    pub n_head: usize,
    pub n_head_kv: usize,
    /// Feed-forward (SwiGLU) width.
    pub n_ff: usize,
    /// Per-head width of q and k (`attention.key_length`).
    pub head_dim: usize,
    /// Dimensions rotated by RoPE (`rope.dimension_count`, ≤ `head_dim`).
    pub n_rot: usize,
    pub rope_freq_base: f32,
    /// `1 / rope.scaling.factor` for linear scaling, else 1.
    pub rope_freq_scale: f32,
    pub rms_eps: f32,
    /// Training context length (`context_length`).
    pub n_ctx_train: usize,
    /// Vocabulary size (`vocab_size`, or the token list's length); `None` if the file has
    /// neither (then the embedding tensor decides).
    pub n_vocab: Option<usize>,
}

/// Largest values accepted for widths and counts: far beyond real models, small enough that
/// buffers sized from them cannot overflow.
const MAX_WIDTH: u64 = 1 << 20;
const MAX_LAYERS: u64 = 4096;
const MAX_CTX: u64 = 1 << 24;

impl TryFrom<&Metadata> for Hparams {
    type Error = EngineError;

    fn try_from(md: &Metadata) -> Result<Self, Self::Error> {
        let arch_name = md
            .get_str("general.architecture")?
            .ok_or_else(|| EngineError::MissingKey("general.architecture".into()))?;
        let arch = match arch_name {
            "llama" => Arch::Llama,
            "qwen2" => Arch::Qwen2,
            "qwen3" => Arch::Qwen3,
            other => return Err(EngineError::UnsupportedArchitecture(other.to_string())),
        };
        let a = arch.name();
        let key = |k: &str| format!("{a}.{k}");
        let req = |k: &str, max: u64| -> Result<usize, EngineError> {
            let name = key(k);
            let v = md
                .get_u64(&name)?
                .ok_or_else(|| EngineError::MissingKey(name.clone()))?;
            bounded(&name, v, max)
        };
        let opt = |k: &str, max: u64| -> Result<Option<usize>, EngineError> {
            let name = key(k);
            md.get_u64(&name)?
                .map(|v| bounded(&name, v, max))
                .transpose()
        };

        let n_embd = req("embedding_length", MAX_WIDTH)?;
        let n_layer = req("block_count", MAX_LAYERS)?;
        let n_ff = req("feed_forward_length", MAX_WIDTH)?;
        let n_head = req("attention.head_count", MAX_WIDTH)?;
        let n_head_kv = opt("attention.head_count_kv", MAX_WIDTH)?.unwrap_or(n_head);
        let n_ctx_train = req("context_length", MAX_CTX)?;
        if n_head_kv > n_head || n_head % n_head_kv != 0 {
            return Err(bad(
                &key("attention.head_count_kv"),
                format!("{n_head_kv} does not divide the head count {n_head}"),
            ));
        }
        let head_dim = match opt("attention.key_length", MAX_WIDTH)? {
            Some(d) => d,
            None if n_embd % n_head == 0 => n_embd / n_head,
            None => {
                return Err(bad(
                    &key("attention.head_count"),
                    format!("{n_head} heads do not divide the width {n_embd}"),
                ));
            }
        };
        if let Some(v) = opt("attention.value_length", MAX_WIDTH)?
            && v != head_dim
        {
            return Err(bad(
                &key("attention.value_length"),
                format!("{v} differs from the key length {head_dim} (not supported)"),
            ));
        }
        let n_rot = opt("rope.dimension_count", MAX_WIDTH)?.unwrap_or(head_dim);
        if n_rot > head_dim || n_rot % 2 != 0 {
            return Err(bad(
                &key("rope.dimension_count"),
                format!("{n_rot} must be even and at most the head width {head_dim}"),
            ));
        }
        let rope_freq_base = md.get_f32(&key("rope.freq_base"))?.unwrap_or(10000.0);
        if !(rope_freq_base.is_finite() && rope_freq_base > 0.0) {
            return Err(bad(
                &key("rope.freq_base"),
                format!("{rope_freq_base} is not a positive number"),
            ));
        }
        let rope_freq_scale = rope_scale(md, &key)?;
        let rms_key = key("attention.layer_norm_rms_epsilon");
        let rms_eps = md
            .get_f32(&rms_key)?
            .ok_or_else(|| EngineError::MissingKey(rms_key.clone()))?;
        if !(rms_eps.is_finite() && rms_eps >= 0.0) {
            return Err(bad(
                &rms_key,
                format!("{rms_eps} is not a non-negative number"),
            ));
        }
        let n_vocab = match opt("vocab_size", MAX_CTX)? {
            Some(v) => Some(v),
            None => md.get_array("tokenizer.ggml.tokens")?.map(|t| t.len()),
        };
        Ok(Hparams {
            arch,
            n_embd,
            n_layer,
            n_head,
            n_head_kv,
            n_ff,
            head_dim,
            n_rot,
            rope_freq_base,
            rope_freq_scale,
            rms_eps,
            n_ctx_train,
            n_vocab,
        })
    }
}

impl Hparams {
    /// Width of all query heads together.
    pub fn q_dim(&self) -> usize {
        self.n_head * self.head_dim
    }
    /// Width of all key (or value) heads together.
    pub fn kv_dim(&self) -> usize {
        self.n_head_kv * self.head_dim
    }
}

fn rope_scale(md: &Metadata, key: &dyn Fn(&str) -> String) -> Result<f32, EngineError> {
    let ty_key = key("rope.scaling.type");
    let factor = md
        .get_f32(&key("rope.scaling.factor"))?
        .or(md.get_f32(&key("rope.scale_linear"))?);
    let ty = md
        .get_str(&ty_key)?
        .unwrap_or(if factor.is_some() { "linear" } else { "none" });
    match ty {
        "none" => Ok(1.0),
        "linear" => match factor {
            None => Ok(1.0),
            Some(0.0) => Ok(1.0),
            Some(f) if f.is_finite() && f > 0.0 => Ok(1.0 / f),
            Some(f) => Err(bad(
                &key("rope.scaling.factor"),
                format!("{f} is not a positive number"),
            )),
        },
        other => Err(bad(
            &ty_key,
            format!("rope scaling {other:?} is not supported (none, linear)"),
        )),
    }
}

fn bounded(key: &str, v: u64, max: u64) -> Result<usize, EngineError> {
    if v == 0 || v > max {
        return Err(bad(key, format!("{v} is outside 1..={max}")));
    }
    usize::try_from(v).map_err(|_| bad(key, format!("{v} does not fit this platform")))
}

fn bad(key: &str, reason: String) -> EngineError {
    EngineError::BadMetadata {
        key: key.to_string(),
        reason,
    }
}
