//! Attention helpers over KV-cache rows: f16/f32 dot products and `y += a·x`.
#![allow(unsafe_code)]

use super::{X86Level, hsum_ps};
use half::f16;
use std::arch::x86_64::*;

/// `Σ a[i]·b[i]` over f16 rows in tinyBLAS's order for `level` (`None` if the CPU lacks AVX2/FMA/F16C or lengths differ).
pub fn dot_f16(level: X86Level, a: &[f16], b: &[f16]) -> Option<f32> {
    if a.len() != b.len() || !level.supported() {
        return None;
    }
    // SAFETY: equal lengths checked; the features of every level include AVX2, FMA and F16C.
    Some(unsafe {
        match level {
            X86Level::Avx2 => dot_f16_avx2::<8>(a, b),
            X86Level::Avx512Vnni => dot_f16_avx2::<16>(a, b),
        }
    })
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

/// `Σ a[i]·b[i]` over f32 rows in tinyBLAS's order for `level` (`None` if unsupported).
pub fn dot_f32(level: X86Level, a: &[f32], b: &[f32]) -> Option<f32> {
    if a.len() != b.len() || !level.supported() {
        return None;
    }
    // SAFETY: equal lengths checked; every level includes AVX2 and FMA.
    Some(unsafe {
        match level {
            X86Level::Avx2 => dot_f32_avx2::<8>(a, b),
            X86Level::Avx512Vnni => dot_f32_avx2::<16>(a, b),
        }
    })
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

/// Elements loaded 8 at a time as f32.
trait Load8: Copy + Default {
    /// # Safety
    /// 8 elements readable at `p`; AVX2 (and F16C for f16) enabled in the caller.
    unsafe fn load8(p: *const Self) -> __m256;
}

impl Load8 for f32 {
    #[inline(always)]
    unsafe fn load8(p: *const f32) -> __m256 {
        // SAFETY: the caller's contract.
        unsafe { _mm256_loadu_ps(p) }
    }
}

impl Load8 for f16 {
    #[inline(always)]
    unsafe fn load8(p: *const f16) -> __m256 {
        // SAFETY: the caller's contract.
        unsafe { _mm256_cvtph_ps(_mm_loadu_si128(p as *const __m128i)) }
    }
}

/// Lane-ordered dot product (`act::dot_lanes`), 8 values at a time (`LANES` = 8 or 16: one
/// or two 8-lane accumulators, then `hsum_ps` of their sum, which is ggml's 16-lane
/// `_mm512_reduce_add_ps` order). A partial last register is zero-padded.
#[inline(always)]
unsafe fn dot_lanes<T: Load8, const LANES: usize>(a: &[T], b: &[T]) -> f32 {
    let n = a.len().min(b.len());
    let main = n / 8 * 8;
    let mut ta = [T::default(); 8];
    let mut tb = [T::default(); 8];
    ta[..n - main].copy_from_slice(&a[main..n]);
    tb[..n - main].copy_from_slice(&b[main..n]);
    // SAFETY: blocks starting below `main` are in bounds of both slices; the last partial
    // block is read from the zero-padded copies; AVX2/FMA (and F16C) are enabled in the
    // calling function.
    unsafe {
        let load = |i: usize| -> (*const T, *const T) {
            if i < main {
                (a.as_ptr().add(i), b.as_ptr().add(i))
            } else {
                (ta.as_ptr(), tb.as_ptr())
            }
        };
        let mut lo = _mm256_setzero_ps();
        let mut hi = _mm256_setzero_ps();
        let mut i = 0;
        while i < n {
            let (pa, pb) = load(i);
            lo = _mm256_fmadd_ps(T::load8(pa), T::load8(pb), lo);
            i += 8;
            if LANES == 16 && i < n {
                let (pa, pb) = load(i);
                hi = _mm256_fmadd_ps(T::load8(pa), T::load8(pb), hi);
                i += 8;
            }
        }
        if LANES == 16 {
            hsum_ps(_mm256_add_ps(hi, lo))
        } else {
            hsum_ps(lo)
        }
    }
}

#[target_feature(enable = "avx2,fma,f16c")]
unsafe fn dot_f16_avx2<const LANES: usize>(a: &[f16], b: &[f16]) -> f32 {
    // SAFETY: AVX2/FMA/F16C are enabled here.
    unsafe { dot_lanes::<f16, LANES>(a, b) }
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
unsafe fn dot_f32_avx2<const LANES: usize>(a: &[f32], b: &[f32]) -> f32 {
    // SAFETY: AVX2/FMA are enabled here.
    unsafe { dot_lanes::<f32, LANES>(a, b) }
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
