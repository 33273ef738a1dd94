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

/// Scores of one f16 query against `n` f16 key rows (`keys[j·stride ..][..q.len()]`), each
/// exactly as [`dot_f16`] computes it, appended to `out`. `None` (nothing appended) unless the
/// head size is 64 or 128, the rows are in bounds, and the CPU supports `level`.
pub fn dot_f16_rows(
    level: X86Level,
    q: &[f16],
    keys: &[f16],
    stride: usize,
    n: usize,
    out: &mut Vec<f32>,
) -> Option<()> {
    let hd = q.len();
    if n == 0 {
        return Some(());
    }
    if !(hd == 64 || hd == 128) || (n - 1).checked_mul(stride)?.checked_add(hd)? > keys.len() {
        return None;
    }
    if !level.supported() {
        return None;
    }
    out.reserve(n);
    // SAFETY: every key row `j < n` lies within `keys` (checked above); `q` holds `hd`
    // elements; the features of every level include AVX2, FMA and F16C.
    unsafe {
        match (level, hd) {
            (X86Level::Avx2, 64) => dot_rows_avx2::<8, 8>(q, keys, stride, n, out),
            (X86Level::Avx2, _) => dot_rows_avx2::<16, 8>(q, keys, stride, n, out),
            (X86Level::Avx512Vnni, 64) => dot_rows_avx512::<8>(q, keys, stride, n, out),
            (X86Level::Avx512Vnni, _) => dot_rows_avx512::<16>(q, keys, stride, n, out),
        }
    }
    Some(())
}

/// `NB` registers of 8 f32 from the f16 query, then per key the lane-ordered dot product of
/// [`dot_lanes`] (block `b` into the low accumulator, or the high one when `LANES` = 16 and
/// `b` is odd).
#[inline(always)]
unsafe fn dot_rows_body<const NB: usize, const LANES: usize>(
    q: &[f16],
    keys: &[f16],
    stride: usize,
    n: usize,
    out: &mut Vec<f32>,
) {
    // SAFETY: the caller's contract: `q` has `8·NB` elements, key rows `j < n` are in bounds;
    // AVX2/FMA/F16C are enabled in the calling function.
    unsafe {
        let mut qv = [_mm256_setzero_ps(); NB];
        for (b, r) in qv.iter_mut().enumerate() {
            *r = f16::load8(q.as_ptr().add(8 * b));
        }
        for j in 0..n {
            let kp = keys.as_ptr().add(j * stride);
            let mut lo = _mm256_setzero_ps();
            let mut hi = _mm256_setzero_ps();
            for (b, qb) in qv.iter().enumerate() {
                let kb = f16::load8(kp.add(8 * b));
                if LANES == 16 && b % 2 == 1 {
                    hi = _mm256_fmadd_ps(*qb, kb, hi);
                } else {
                    lo = _mm256_fmadd_ps(*qb, kb, lo);
                }
            }
            out.push(if LANES == 16 {
                hsum_ps(_mm256_add_ps(hi, lo))
            } else {
                hsum_ps(lo)
            });
        }
    }
}

#[target_feature(enable = "avx2,fma,f16c")]
unsafe fn dot_rows_avx2<const NB: usize, const LANES: usize>(
    q: &[f16],
    keys: &[f16],
    stride: usize,
    n: usize,
    out: &mut Vec<f32>,
) {
    // SAFETY: forwarded contract; the features are enabled here.
    unsafe { dot_rows_body::<NB, LANES>(q, keys, stride, n, out) }
}

#[target_feature(enable = "avx2,fma,f16c,avx512f,avx512vl")]
unsafe fn dot_rows_avx512<const NB: usize>(
    q: &[f16],
    keys: &[f16],
    stride: usize,
    n: usize,
    out: &mut Vec<f32>,
) {
    // SAFETY: forwarded contract; the features are enabled here.
    unsafe { dot_rows_body::<NB, 16>(q, keys, stride, n, out) }
}

/// `out[d] = Σ_j w[j]·vals[j·stride + d]` in the arithmetic of the per-key [`axpy_f16`] into
/// `LANES` chains (`j mod LANES`) followed by the lanes' `hsum` of each element, `LANES` =
/// 8 (AVX2) or 16 (AVX-512). `false` (nothing written) unless `out.len()` is a multiple of 8,
/// the rows are in bounds, and the CPU supports `level`.
pub fn wsum_f16(level: X86Level, w: &[f32], vals: &[f16], stride: usize, out: &mut [f32]) -> bool {
    let (n, hd) = (w.len(), out.len());
    if hd % 8 != 0 || !level.supported() {
        return false;
    }
    if n > 0
        && (n - 1)
            .checked_mul(stride)
            .and_then(|x| x.checked_add(hd))
            .is_none_or(|end| end > vals.len())
    {
        return false;
    }
    // SAFETY: every value row `j < n` lies within `vals` (checked above); the features of
    // every level include AVX2, FMA and F16C.
    unsafe {
        match level {
            X86Level::Avx2 => wsum_avx2(w, vals, stride, out),
            X86Level::Avx512Vnni => wsum_avx512(w, vals, stride, out),
        }
    }
    true
}

/// [`wsum_f16`] with `LANES` chain registers per block of 8 output elements.
#[inline(always)]
unsafe fn wsum_body<const LANES: usize>(w: &[f32], vals: &[f16], stride: usize, out: &mut [f32]) {
    let n = w.len();
    // SAFETY: the caller's contract: value rows `j < n` hold `out.len()` elements from
    // `j·stride`; AVX2/FMA/F16C are enabled in the calling function.
    unsafe {
        for (b, o) in out.chunks_exact_mut(8).enumerate() {
            let base = vals.as_ptr().add(8 * b);
            let mut acc = [_mm256_setzero_ps(); LANES];
            let mut j = 0;
            while j + LANES <= n {
                for (c, a) in acc.iter_mut().enumerate() {
                    let v = f16::load8(base.add((j + c) * stride));
                    *a = _mm256_fmadd_ps(_mm256_set1_ps(*w.get_unchecked(j + c)), v, *a);
                }
                j += LANES;
            }
            for (c, a) in acc.iter_mut().enumerate().take(n - j) {
                let v = f16::load8(base.add((j + c) * stride));
                *a = _mm256_fmadd_ps(_mm256_set1_ps(*w.get_unchecked(j + c)), v, *a);
            }
            // `act::hsum` of the lanes, element-wise: (16 →) 8 → 4 → 2 → 1.
            let mut a8 = [_mm256_setzero_ps(); 8];
            for (i, x) in a8.iter_mut().enumerate() {
                *x = if LANES == 16 {
                    _mm256_add_ps(acc[(i + 8) % LANES], acc[i])
                } else {
                    acc[i]
                };
            }
            let b4: [__m256; 4] = std::array::from_fn(|i| _mm256_add_ps(a8[i + 4], a8[i]));
            let r = _mm256_add_ps(_mm256_add_ps(b4[0], b4[2]), _mm256_add_ps(b4[1], b4[3]));
            _mm256_storeu_ps(o.as_mut_ptr(), r);
        }
    }
}

#[target_feature(enable = "avx2,fma,f16c")]
unsafe fn wsum_avx2(w: &[f32], vals: &[f16], stride: usize, out: &mut [f32]) {
    // SAFETY: forwarded contract; the features are enabled here.
    unsafe { wsum_body::<8>(w, vals, stride, out) }
}

#[target_feature(enable = "avx2,fma,f16c,avx512f,avx512vl")]
unsafe fn wsum_avx512(w: &[f32], vals: &[f16], stride: usize, out: &mut [f32]) {
    // SAFETY: forwarded contract; the features are enabled here.
    unsafe { wsum_body::<16>(w, vals, stride, out) }
}
