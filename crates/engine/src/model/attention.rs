//! Causal grouped-query attention of new rows over their sequences' KV caches.
//!
//! Follows llama.cpp's (non flash-attention) order: scores `q·k` (q rounded to f16 for an f16
//! cache), softmax of `scores·scale`, weights rounded to f16 for an f16 cache, then `Σ p·v`.

use super::kv::{KvBuf, KvCache};
use crate::EngineError;
use crate::kernels::{Isa, vec};
use half::f16;
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
        || (Vec::<f32>::new(), Vec::<f16>::new()),
        |(scores, q16), (i, o)| {
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
            o.fill(0.0);
            match (&kv.k, &kv.v) {
                (KvBuf::F16(k), KvBuf::F16(v)) => {
                    if k.len() < n * kv_dim || v.len() < n * kv_dim {
                        return Err(EngineError::Invalid("attention past the cache".into()));
                    }
                    q16.clear();
                    q16.extend(qh.iter().map(|&x| f16::from_f32(x)));
                    for j in 0..n {
                        let kr = &k[j * kv_dim + off..j * kv_dim + off + hd];
                        scores.push(vec::dot_f16(isa, q16, kr));
                    }
                    super::ops::softmax_scaled(scores, shape.scale);
                    for (j, &w) in scores.iter().enumerate() {
                        let w = f16::from_f32(w).to_f32();
                        vec::axpy_f16(isa, o, w, &v[j * kv_dim + off..j * kv_dim + off + hd]);
                    }
                }
                (KvBuf::F32(k), KvBuf::F32(v)) => {
                    if k.len() < n * kv_dim || v.len() < n * kv_dim {
                        return Err(EngineError::Invalid("attention past the cache".into()));
                    }
                    for j in 0..n {
                        let kr = &k[j * kv_dim + off..j * kv_dim + off + hd];
                        scores.push(vec::dot_f32(isa, qh, kr));
                    }
                    super::ops::softmax_scaled(scores, shape.scale);
                    for (j, &w) in scores.iter().enumerate() {
                        vec::axpy_f32(isa, o, w, &v[j * kv_dim + off..j * kv_dim + off + hd]);
                    }
                }
                _ => return Err(EngineError::Invalid("mixed KV cache types".into())),
            }
            Ok(())
        },
    )
}
