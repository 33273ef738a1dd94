//! Attention helpers over KV-cache rows: f16/f32 dot products and `y += a·x`.
#![allow(unsafe_code)]

use super::{X86Level, hsum_ps};
use half::f16;
use std::arch::x86_64::*;

/// `Σ a[i]·b[i]` over f16 rows (`None` if the CPU lacks AVX2/FMA/F16C or lengths differ).
pub fn dot_f16(level: X86Level, a: &[f16], b: &[f16]) -> Option<f32> {
    if a.len() != b.len() || !level.supported() {
        return None;
    }
    // SAFETY: equal lengths checked; the features of every level include AVX2, FMA and F16C.
    Some(unsafe { dot_f16_avx2(a, b) })
}

/// `y[i] += alpha·x[i]` (`false` if unsupported or lengths differ).
pub fn axpy_f16(level: X86Level, y: &mut [f32], alpha: f32, x: &[f16]) -> bool {
    if y.len() != x.len() || !level.supported() {
        return false;
    }
    // SAFETY: equal lengths checked; every level includes AVX2, FMA and F16C.
    unsafe { axpy_f16_avx2(y, alpha, x) };
    true
}

/// `Σ a[i]·b[i]` over f32 rows.
pub fn dot_f32(level: X86Level, a: &[f32], b: &[f32]) -> Option<f32> {
    if a.len() != b.len() || !level.supported() {
        return None;
    }
    // SAFETY: equal lengths checked; every level includes AVX2 and FMA.
    Some(unsafe { dot_f32_avx2(a, b) })
}

/// `y[i] += alpha·x[i]` over f32.
pub fn axpy_f32(level: X86Level, y: &mut [f32], alpha: f32, x: &[f32]) -> bool {
    if y.len() != x.len() || !level.supported() {
        return false;
    }
    // SAFETY: equal lengths checked; every level includes AVX2 and FMA.
    unsafe { axpy_f32_avx2(y, alpha, x) };
    true
}

#[target_feature(enable = "avx2,fma,f16c")]
unsafe fn dot_f16_avx2(a: &[f16], b: &[f16]) -> f32 {
    let n = a.len();
    let main = n / 8 * 8;
    // SAFETY: indices below `main ≤ n` are in bounds of both slices (equal lengths).
    unsafe {
        let mut acc = _mm256_setzero_ps();
        let mut i = 0;
        while i < main {
            let x = _mm256_cvtph_ps(_mm_loadu_si128(a.as_ptr().add(i) as *const __m128i));
            let y = _mm256_cvtph_ps(_mm_loadu_si128(b.as_ptr().add(i) as *const __m128i));
            acc = _mm256_fmadd_ps(x, y, acc);
            i += 8;
        }
        let mut s = hsum_ps(acc);
        for j in main..n {
            s += a[j].to_f32() * b[j].to_f32();
        }
        s
    }
}

#[target_feature(enable = "avx2,fma,f16c")]
unsafe fn axpy_f16_avx2(y: &mut [f32], alpha: f32, x: &[f16]) {
    let n = y.len();
    let main = n / 8 * 8;
    // SAFETY: indices below `main ≤ n` are in bounds of both slices (equal lengths).
    unsafe {
        let a = _mm256_set1_ps(alpha);
        let mut i = 0;
        while i < main {
            let xv = _mm256_cvtph_ps(_mm_loadu_si128(x.as_ptr().add(i) as *const __m128i));
            let p = y.as_mut_ptr().add(i);
            _mm256_storeu_ps(p, _mm256_fmadd_ps(a, xv, _mm256_loadu_ps(p)));
            i += 8;
        }
    }
    for j in main..n {
        y[j] = alpha.mul_add(x[j].to_f32(), y[j]);
    }
}

#[target_feature(enable = "avx2,fma")]
unsafe fn dot_f32_avx2(a: &[f32], b: &[f32]) -> f32 {
    let n = a.len();
    let main = n / 8 * 8;
    // SAFETY: indices below `main ≤ n` are in bounds of both slices (equal lengths).
    unsafe {
        let mut acc = _mm256_setzero_ps();
        let mut i = 0;
        while i < main {
            let x = _mm256_loadu_ps(a.as_ptr().add(i));
            let y = _mm256_loadu_ps(b.as_ptr().add(i));
            acc = _mm256_fmadd_ps(x, y, acc);
            i += 8;
        }
        let mut s = hsum_ps(acc);
        for j in main..n {
            s += a[j] * b[j];
        }
        s
    }
}

#[target_feature(enable = "avx2,fma")]
unsafe fn axpy_f32_avx2(y: &mut [f32], alpha: f32, x: &[f32]) {
    let n = y.len();
    let main = n / 8 * 8;
    // SAFETY: indices below `main ≤ n` are in bounds of both slices (equal lengths).
    unsafe {
        let a = _mm256_set1_ps(alpha);
        let mut i = 0;
        while i < main {
            let p = y.as_mut_ptr().add(i);
            _mm256_storeu_ps(
                p,
                _mm256_fmadd_ps(a, _mm256_loadu_ps(x.as_ptr().add(i)), _mm256_loadu_ps(p)),
            );
            i += 8;
        }
    }
    for j in main..n {
        y[j] = alpha.mul_add(x[j], y[j]);
    }
}
