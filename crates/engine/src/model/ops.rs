//! Row operations of the forward pass, written to follow ggml's arithmetic.

use crate::kernels::{Isa, act};

/// ggml's `rms_norm` then `mul` by the weight: the sum of squares in f64, `1/sqrtf(mean + eps)`
/// in f32, `out = (x · scale) · w`.
pub fn rms_norm(x: &[f32], w: &[f32], eps: f32, out: &mut [f32]) {
    let sum: f64 = x.iter().map(|&v| (v * v) as f64).sum();
    let mean = (sum / x.len().max(1) as f64) as f32;
    let scale = 1.0 / (mean + eps).sqrt();
    for ((o, &v), &g) in out.iter_mut().zip(x).zip(w) {
        *o = (v * scale) * g;
    }
}

/// In-place RMS norm (same arithmetic as [`rms_norm`]).
pub fn rms_norm_inplace(x: &mut [f32], w: &[f32], eps: f32) {
    let sum: f64 = x.iter().map(|&v| (v * v) as f64).sum();
    let mean = (sum / x.len().max(1) as f64) as f32;
    let scale = 1.0 / (mean + eps).sqrt();
    for (v, &g) in x.iter_mut().zip(w) {
        *v = (*v * scale) * g;
    }
}

/// RoPE parameters shared by all positions.
#[derive(Debug, Clone)]
pub struct Rope {
    pub n_rot: usize,
    pub freq_base: f32,
    pub freq_scale: f32,
    pub neox: bool,
    /// Per-pair frequency divisors (Llama-3 `rope_freqs`).
    pub freq_factors: Option<Vec<f32>>,
}

impl Rope {
    /// `(cos, sin)` for each rotated pair at position `pos`, as ggml's rope cache: the angle
    /// `pos · base^(-2i/n_rot)` built by repeated f32 multiplication, divided by the frequency
    /// factor, times the linear scale.
    pub fn table(&self, pos: usize, out: &mut Vec<(f32, f32)>) {
        out.clear();
        let theta_scale = self.freq_base.powf(-2.0 / self.n_rot as f32);
        let mut theta = pos as f32;
        for i in 0..self.n_rot / 2 {
            let ff = self
                .freq_factors
                .as_ref()
                .and_then(|f| f.get(i).copied())
                .unwrap_or(1.0);
            let t = self.freq_scale * (theta / ff);
            out.push((t.cos(), t.sin()));
            theta *= theta_scale;
        }
    }

    /// Rotates one head (`x.len()` = head width) with a table from [`Rope::table`].
    pub fn apply(&self, x: &mut [f32], table: &[(f32, f32)]) {
        let half = self.n_rot / 2;
        for (i, &(c, s)) in table.iter().enumerate() {
            let (a, b) = if self.neox {
                (i, i + half)
            } else {
                (2 * i, 2 * i + 1)
            };
            let (Some(&x0), Some(&x1)) = (x.get(a), x.get(b)) else {
                return;
            };
            // As GCC contracts ggml's `x0*cos - x1*sin` and `x0*sin + x1*cos` (-ffp-contract=fast).
            x[a] = x0.mul_add(c, -(x1 * s));
            x[b] = x0.mul_add(s, x1 * c);
        }
    }
}

/// ggml's `soft_max_ext` on one row of raw scores: `x·scale`, the max, the exponentials of
/// `x − max` and their f64 sum as `ggml_vec_soft_max_f32` ([`act::softmax_exp`]), then each
/// multiplied by `(1/sum)` as f32.
pub fn softmax_scaled(isa: Isa, x: &mut [f32], scale: f32) {
    let mut max = f32::NEG_INFINITY;
    for v in x.iter_mut() {
        *v *= scale;
        max = max.max(*v);
    }
    let sum = act::softmax_exp(isa, x, max);
    let inv = (1.0 / sum) as f32;
    for v in x.iter_mut() {
        *v *= inv;
    }
}
