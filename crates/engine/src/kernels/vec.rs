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
