//! Causal grouped-query attention of new rows over their sequences' KV caches.
//!
//! Follows llama.cpp's (non flash-attention) batch arithmetic: scores `q·k` (q rounded to f16
//! for an f16 cache) and `Σ p·v` as tinyBLAS computes matrix elements (lane `j mod L` of a
//! register accumulates term `j` with an FMA, then the lanes are summed in ggml's order), the
//! softmax of `scores·scale` as `ggml_soft_max_ext`, weights rounded to f16 for an f16 cache.

use super::kv::{KvBuf, KvCache};
use crate::EngineError;
use crate::kernels::act::Lanes;
use crate::kernels::{Isa, vec};
use half::f16;
use half::slice::HalfFloatSliceExt;
use rayon::prelude::*;

/// Shapes of one attention call.
pub(crate) struct AttnShape {
    pub n_head: usize,
    pub n_head_kv: usize,
    pub head_dim: usize,
    pub scale: f32,
    pub isa: Isa,
}

/// For each row `r` (cache `caches[seq[r]]`, position `pos[r]`, which must already be cached),
/// attention of each head of `q[r]` over positions `0..=pos[r]`, into `out[r]`.
pub(crate) fn attend(
    layer: usize,
    shape: &AttnShape,
    caches: &[&KvCache],
    seq: &[usize],
    pos: &[usize],
    q: &[f32],
    out: &mut [f32],
) -> Result<(), EngineError> {
    let hd = shape.head_dim;
    let q_dim = shape.n_head * hd;
    let group = shape.n_head / shape.n_head_kv.max(1);
    let rows = seq.len();
    let isa = shape.isa;
    if q.len() != rows * q_dim || out.len() != rows * q_dim || pos.len() != rows {
        return Err(EngineError::Invalid(
            "attention buffers do not match".into(),
        ));
    }
    out.par_chunks_mut(hd).enumerate().try_for_each_init(
        || {
            (
                Vec::<f32>::new(),
                Vec::<f16>::new(),
                Vec::<f32>::new(),
                Vec::<f16>::new(),
            )
        },
        |(scores, q16, chains, w16), (i, o)| {
            let (r, h) = (i / shape.n_head, i % shape.n_head);
            let (Some(&s), Some(&p)) = (seq.get(r), pos.get(r)) else {
                return Err(EngineError::Invalid("attention row out of range".into()));
            };
            let cache = caches
                .get(s)
                .ok_or_else(|| EngineError::Invalid("attention sequence out of range".into()))?;
            let kv = cache
                .layer(layer)
                .ok_or_else(|| EngineError::Invalid("KV cache layer missing".into()))?;
            let kv_dim = cache.kv_dim();
            let off = (h / group) * hd;
            let qh = &q[r * q_dim + h * hd..r * q_dim + (h + 1) * hd];
            let n = p + 1;
            scores.clear();
            let lanes = Lanes::of(isa);
            match (&kv.k, &kv.v) {
                (KvBuf::F16(k), KvBuf::F16(v)) => {
                    if k.len() < n * kv_dim || v.len() < n * kv_dim {
                        return Err(EngineError::Invalid("attention past the cache".into()));
                    }
                    q16.clear();
                    q16.resize(qh.len(), f16::ZERO);
                    q16.convert_from_f32_slice(qh);
                    let keys = k.get(off..).unwrap_or_default();
                    vec::dot_f16_rows(isa, q16, keys, kv_dim, n, scores)?;
                    softmax_padded(isa, lanes, scores, shape.scale);
                    scores.truncate(n);
                    // Weights rounded to f16 (as ggml stores them for an f16 cache), through
                    // half's vectorised slice conversions: the same rounding as one by one.
                    w16.clear();
                    w16.resize(n, f16::ZERO);
                    w16.convert_from_f32_slice(scores);
                    w16.convert_to_f32_slice(scores);
                    let vals = v.get(off..).unwrap_or_default();
                    return vec::wsum_f16(isa, scores, vals, kv_dim, o);
                }
                (KvBuf::F32(k), KvBuf::F32(v)) => {
                    if k.len() < n * kv_dim || v.len() < n * kv_dim {
                        return Err(EngineError::Invalid("attention past the cache".into()));
                    }
                    for j in 0..n {
                        let kr = &k[j * kv_dim + off..j * kv_dim + off + hd];
                        scores.push(vec::dot_f32(isa, qh, kr));
                    }
                    softmax_padded(isa, lanes, scores, shape.scale);
                    chains.clear();
                    chains.resize(lanes.n() * hd, 0.0);
                    for (j, &w) in scores.iter().take(n).enumerate() {
                        let c = (j % lanes.n()) * hd;
                        let vr = &v[j * kv_dim + off..j * kv_dim + off + hd];
                        vec::axpy_f32(isa, &mut chains[c..c + hd], w, vr);
                    }
                    vec::sum_chains(chains, o);
                }
                _ => return Err(EngineError::Invalid("mixed KV cache types".into())),
            }
            Ok(())
        },
    )
}

/// The softmax of one row of scores as llama.cpp computes it over its KV cache view, whose
/// length is a multiple of 32 with the masked positions at `-∞`: the row is padded with `-∞`
/// to whole registers (so every exponential goes through the vectorised `expf`, and the
/// padding adds exact zeros to the sum).
fn softmax_padded(isa: Isa, lanes: Lanes, scores: &mut Vec<f32>, scale: f32) {
    let n = scores.len();
    scores.resize(n.next_multiple_of(lanes.n()), f32::NEG_INFINITY);
    super::ops::softmax_scaled(isa, scores, scale);
}
