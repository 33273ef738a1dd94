//! The loaded model: hyperparameters and references to tensor data in the mapped file.
//! Matrices are never copied: each is a checked byte range of the mapping. Only the small
//! vectors (norm weights, biases, RoPE frequency factors) are converted to f32 at load.

use super::config::{Arch, Hparams};
use crate::EngineError;
use crate::kernels::{WType, WeightMatrix, reference};
use switchyard_gguf::{GgufFile, TensorInfo};

/// A matrix tensor: its description, validated once at load.
#[derive(Debug, Clone)]
pub(crate) struct Matrix {
    info: TensorInfo,
    wt: WType,
    k: usize,
    n: usize,
}

impl Matrix {
    /// The tensor `name`, which must be 2-D with `k` columns and `n` rows (`n = None`: any).
    fn load(
        file: &GgufFile,
        name: &str,
        k: usize,
        n: Option<usize>,
    ) -> Result<Matrix, EngineError> {
        let info = file
            .tensor(name)
            .ok_or_else(|| EngineError::MissingTensor(name.to_string()))?;
        let bad = |reason: String| EngineError::BadTensor {
            tensor: name.to_string(),
            reason,
        };
        let wt = WType::try_from(info.ggml_type).map_err(|e| bad(e.to_string()))?;
        let dims: Vec<u64> = info.dims.iter().copied().filter(|&d| d != 1).collect();
        let (k0, n0) = match info.dims.as_slice() {
            [k0] => (*k0, 1),
            [k0, n0, rest @ ..] if rest.iter().all(|&d| d == 1) => (*k0, *n0),
            _ => return Err(bad(format!("expected a matrix, found dimensions {dims:?}"))),
        };
        let (k0, n0) = (
            usize::try_from(k0).unwrap_or(usize::MAX),
            usize::try_from(n0).unwrap_or(usize::MAX),
        );
        if k0 != k || n.is_some_and(|n| n != n0) {
            return Err(bad(format!(
                "expected {} × {k} (rows × row length), found {n0} × {k0}",
                n.map_or("any".to_string(), |n| n.to_string())
            )));
        }
        let m = Matrix {
            info: info.clone(),
            wt,
            k,
            n: n0,
        };
        m.view(file)?;
        Ok(m)
    }

    /// The matrix over `file`'s bytes.
    pub(crate) fn view<'a>(&self, file: &'a GgufFile) -> Result<WeightMatrix<'a>, EngineError> {
        let data = file.tensor_data(&self.info)?;
        WeightMatrix::new(self.wt, self.k, self.n, data).map_err(|e| EngineError::BadTensor {
            tensor: self.info.name.clone(),
            reason: e.to_string(),
        })
    }

    pub(crate) fn n(&self) -> usize {
        self.n
    }
}

/// One transformer block's tensors.
#[derive(Debug, Clone)]
pub(crate) struct Layer {
    pub attn_norm: Vec<f32>,
    pub wq: Matrix,
    pub wk: Matrix,
    pub wv: Matrix,
    pub wo: Matrix,
    pub bq: Option<Vec<f32>>,
    pub bk: Option<Vec<f32>>,
    pub bv: Option<Vec<f32>>,
    pub bo: Option<Vec<f32>>,
    pub q_norm: Option<Vec<f32>>,
    pub k_norm: Option<Vec<f32>>,
    pub ffn_norm: Vec<f32>,
    pub gate: Matrix,
    pub up: Matrix,
    pub down: Matrix,
}

/// All weights of a model.
#[derive(Debug, Clone)]
pub(crate) struct Weights {
    pub tok_embd: Matrix,
    pub output_norm: Vec<f32>,
    /// `output.weight`, or the embedding matrix when tied.
    pub output: Matrix,
    pub layers: Vec<Layer>,
    /// Llama-3 style per-dimension RoPE frequency divisors (`rope_freqs.weight`).
    pub rope_freqs: Option<Vec<f32>>,
    pub n_vocab: usize,
}

impl Weights {
    pub(crate) fn load(file: &GgufFile, hp: &Hparams) -> Result<Weights, EngineError> {
        let e = hp.n_embd;
        let tok_embd = Matrix::load(file, "token_embd.weight", e, hp.n_vocab)?;
        let n_vocab = tok_embd.n();
        let output = match file.tensor("output.weight") {
            Some(_) => Matrix::load(file, "output.weight", e, Some(n_vocab))?,
            None => tok_embd.clone(),
        };
        let output_norm = vector(file, "output_norm.weight", e)?;
        let rope_freqs = opt_vector(file, "rope_freqs.weight", hp.n_rot / 2)?;
        let (q, kv) = (hp.q_dim(), hp.kv_dim());
        let mut layers = Vec::with_capacity(hp.n_layer);
        for i in 0..hp.n_layer {
            let n = |s: &str| format!("blk.{i}.{s}");
            let qk_norm = hp.arch == Arch::Qwen3;
            let norm = |s: &str| -> Result<Option<Vec<f32>>, EngineError> {
                if qk_norm {
                    vector(file, &n(s), hp.head_dim).map(Some)
                } else {
                    opt_vector(file, &n(s), hp.head_dim)
                }
            };
            layers.push(Layer {
                attn_norm: vector(file, &n("attn_norm.weight"), e)?,
                wq: Matrix::load(file, &n("attn_q.weight"), e, Some(q))?,
                wk: Matrix::load(file, &n("attn_k.weight"), e, Some(kv))?,
                wv: Matrix::load(file, &n("attn_v.weight"), e, Some(kv))?,
                wo: Matrix::load(file, &n("attn_output.weight"), q, Some(e))?,
                bq: opt_vector(file, &n("attn_q.bias"), q)?,
                bk: opt_vector(file, &n("attn_k.bias"), kv)?,
                bv: opt_vector(file, &n("attn_v.bias"), kv)?,
                bo: opt_vector(file, &n("attn_output.bias"), e)?,
                q_norm: norm("attn_q_norm.weight")?,
                k_norm: norm("attn_k_norm.weight")?,
                ffn_norm: vector(file, &n("ffn_norm.weight"), e)?,
                gate: Matrix::load(file, &n("ffn_gate.weight"), e, Some(hp.n_ff))?,
                up: Matrix::load(file, &n("ffn_up.weight"), e, Some(hp.n_ff))?,
                down: Matrix::load(file, &n("ffn_down.weight"), hp.n_ff, Some(e))?,
            });
        }
        Ok(Weights {
            tok_embd,
            output_norm,
            output,
            layers,
            rope_freqs,
            n_vocab,
        })
    }
}

/// A 1-D tensor of `len` values, dequantised to f32.
fn vector(file: &GgufFile, name: &str, len: usize) -> Result<Vec<f32>, EngineError> {
    let m = Matrix::load(file, name, len, Some(1))?;
    let w = m.view(file)?;
    let mut out = vec![0.0f32; len];
    reference::dequantize_row(w.wt(), w.row(0), &mut out);
    Ok(out)
}

fn opt_vector(file: &GgufFile, name: &str, len: usize) -> Result<Option<Vec<f32>>, EngineError> {
    match file.tensor(name) {
        Some(_) => vector(file, name, len).map(Some),
        None => Ok(None),
    }
}
