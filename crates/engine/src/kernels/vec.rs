//! Small vector operations for attention over the KV cache (f16 or f32 rows), with scalar
//! references (`*_ref`) and SIMD paths chosen by [`Isa`].
//!
//! The dot products follow llama.cpp's tinyBLAS (`llamafile_sgemm`), which computes the
//! attention scores of a batch: lane `i mod L` accumulates product `i` with an FMA, then the
//! `L` lanes are summed as ggml sums a register (`L` from [`Lanes::of`]; [`act::dot_lanes`]).

use super::Isa;
use super::act::{self, Lanes};
use half::f16;

/// `Σ a[i]·b[i]` (f16 inputs, f32 products and sum) in tinyBLAS's order.
pub fn dot_f16(isa: Isa, a: &[f16], b: &[f16]) -> f32 {
    #[cfg(target_arch = "x86_64")]
    if let Isa::X86(level) = isa
        && let Some(s) = super::x86::vec::dot_f16(level, a, b)
    {
        return s;
    }
    dot_f16_ref(Lanes::of(isa), a, b)
}

/// `Σ a[i]·b[i]` in tinyBLAS's order.
pub fn dot_f32(isa: Isa, a: &[f32], b: &[f32]) -> f32 {
    #[cfg(target_arch = "x86_64")]
    if let Isa::X86(level) = isa
        && let Some(s) = super::x86::vec::dot_f32(level, a, b)
    {
        return s;
    }
    dot_f32_ref(Lanes::of(isa), a, b)
}

/// `y[i] += alpha · x[i]` (fused multiply-add per element).
pub fn axpy_f16(isa: Isa, y: &mut [f32], alpha: f32, x: &[f16]) {
    #[cfg(target_arch = "x86_64")]
    if let Isa::X86(level) = isa
        && super::x86::vec::axpy_f16(level, y, alpha, x)
    {
        return;
    }
    let _ = isa;
    axpy_f16_ref(y, alpha, x)
}

/// `y[i] += alpha · x[i]` (fused multiply-add per element).
pub fn axpy_f32(isa: Isa, y: &mut [f32], alpha: f32, x: &[f32]) {
    #[cfg(target_arch = "x86_64")]
    if let Isa::X86(level) = isa
        && super::x86::vec::axpy_f32(level, y, alpha, x)
    {
        return;
    }
    let _ = isa;
    axpy_f32_ref(y, alpha, x)
}

/// Scores of the f16 query `q` against `n` key rows `keys[j·stride ..][..q.len()]`, appended to
/// `out`, each exactly [`dot_f16`]. Rows past the end of `keys` are an error.
pub fn dot_f16_rows(
    isa: Isa,
    q: &[f16],
    keys: &[f16],
    stride: usize,
    n: usize,
    out: &mut Vec<f32>,
) -> Result<(), crate::EngineError> {
    #[cfg(target_arch = "x86_64")]
    if let Isa::X86(level) = isa
        && super::x86::vec::dot_f16_rows(level, q, keys, stride, n, out).is_some()
    {
        return Ok(());
    }
    for j in 0..n {
        let row = keys
            .get(j * stride..j * stride + q.len())
            .ok_or_else(|| crate::EngineError::Invalid("key row past the cache".into()))?;
        out.push(dot_f16(isa, q, row));
    }
    Ok(())
}

/// `out[d] = Σ_j w[j]·vals[j·stride + d]` as [`axpy_f16`] of each row `j` in order into chain
/// `j mod L` (`L` = [`Lanes::of`]), then [`act::hsum`] of the `L` chains per element.
/// Rows past the end of `vals` are an error.
pub fn wsum_f16(
    isa: Isa,
    w: &[f32],
    vals: &[f16],
    stride: usize,
    out: &mut [f32],
) -> Result<(), crate::EngineError> {
    #[cfg(target_arch = "x86_64")]
    if let Isa::X86(level) = isa
        && super::x86::vec::wsum_f16(level, w, vals, stride, out)
    {
        return Ok(());
    }
    let (l, hd) = (Lanes::of(isa).n(), out.len());
    let mut chains = vec![0.0f32; l * hd];
    for (j, &wj) in w.iter().enumerate() {
        let row = vals
            .get(j * stride..j * stride + hd)
            .ok_or_else(|| crate::EngineError::Invalid("value row past the cache".into()))?;
        let c = (j % l) * hd;
        axpy_f16(isa, &mut chains[c..c + hd], wj, row);
    }
    sum_chains(&chains, out);
    Ok(())
}

/// `out[d]` = [`act::hsum`] of the chains' element `d`, where `chains` holds `L` chains of
/// `out.len()` elements back to back (`L` = 8 or 16): the lanes' partial sums of each output
/// element, summed in ggml's order.
pub fn sum_chains(chains: &[f32], out: &mut [f32]) {
    let hd = out.len();
    let l = chains.len().checked_div(hd).unwrap_or(0).min(16);
    let mut lane = [0.0f32; 16];
    for (d, o) in out.iter_mut().enumerate() {
        for (c, x) in lane.iter_mut().take(l).enumerate() {
            *x = chains.get(c * hd + d).copied().unwrap_or(0.0);
        }
        *o = act::hsum(&lane[..l]);
    }
}

pub fn dot_f16_ref(lanes: Lanes, a: &[f16], b: &[f16]) -> f32 {
    act::dot_lanes(
        lanes,
        a.iter().map(|x| x.to_f32()),
        b.iter().map(|x| x.to_f32()),
    )
}

pub fn dot_f32_ref(lanes: Lanes, a: &[f32], b: &[f32]) -> f32 {
    act::dot_lanes(lanes, a.iter().copied(), b.iter().copied())
}

pub fn axpy_f16_ref(y: &mut [f32], alpha: f32, x: &[f16]) {
    for (v, s) in y.iter_mut().zip(x) {
        *v = alpha.mul_add(s.to_f32(), *v);
    }
}

pub fn axpy_f32_ref(y: &mut [f32], alpha: f32, x: &[f32]) {
    for (v, s) in y.iter_mut().zip(x) {
        *v = alpha.mul_add(*s, *v);
    }
}
