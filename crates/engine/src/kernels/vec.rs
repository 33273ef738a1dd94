//! Small vector operations for attention over the KV cache (f16 or f32 rows), with scalar
//! references (`*_ref`) and SIMD paths chosen by [`Isa`].

use super::Isa;
use half::f16;

/// `Σ a[i]·b[i]` (f16 inputs, f32 products and sum).
pub fn dot_f16(isa: Isa, a: &[f16], b: &[f16]) -> f32 {
    #[cfg(target_arch = "x86_64")]
    if let Isa::X86(level) = isa
        && let Some(s) = super::x86::vec::dot_f16(level, a, b)
    {
        return s;
    }
    let _ = isa;
    dot_f16_ref(a, b)
}

/// `Σ a[i]·b[i]`.
pub fn dot_f32(isa: Isa, a: &[f32], b: &[f32]) -> f32 {
    #[cfg(target_arch = "x86_64")]
    if let Isa::X86(level) = isa
        && let Some(s) = super::x86::vec::dot_f32(level, a, b)
    {
        return s;
    }
    let _ = isa;
    dot_f32_ref(a, b)
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

pub fn dot_f16_ref(a: &[f16], b: &[f16]) -> f32 {
    a.iter()
        .zip(b)
        .fold(0.0, |s, (x, y)| s + x.to_f32() * y.to_f32())
}

pub fn dot_f32_ref(a: &[f32], b: &[f32]) -> f32 {
    a.iter().zip(b).fold(0.0, |s, (x, y)| s + x * y)
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
