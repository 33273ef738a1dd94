//! SIMD forms of `kernels::act`: ggml's vectorised `expf`, SwiGLU and soft-max exponentials,
//! 8 lanes (AVX2, as llama.cpp's AVX2 build) or 16 lanes (AVX-512, as its AVX-512 build),
//! equal bit for bit to the scalar references there.
#![allow(unsafe_code)]

use super::{X86Level, hsum_ps};
use crate::kernels::act::{LN2_HI, LN2_LO, LOG2E, P0, P1, P2, P3, P4, SHIFTER};
use std::arch::x86_64::*;

/// `g ← silu(g)·u` (`false` if the lengths differ or the CPU lacks `level`).
pub fn swiglu(level: X86Level, g: &mut [f32], u: &[f32]) -> bool {
    if g.len() != u.len() || !level.supported() {
        return false;
    }
    // SAFETY: equal lengths checked; the CPU supports `level` (checked), whose features the
    // called function needs.
    unsafe {
        match level {
            X86Level::Avx2 => swiglu_avx2(g, u),
            X86Level::Avx512Vnni => swiglu_avx512(g, u),
        }
    }
    true
}

/// `x[i] ← e^(x[i] − max)`, returning their sum (`None` if the CPU lacks `level`).
pub fn softmax_exp(level: X86Level, x: &mut [f32], max: f32) -> Option<f64> {
    if !level.supported() {
        return None;
    }
    // SAFETY: the CPU supports `level` (checked), whose features the called function needs.
    Some(unsafe {
        match level {
            X86Level::Avx2 => softmax_exp_avx2(x, max),
            X86Level::Avx512Vnni => softmax_exp_avx512(x, max),
        }
    })
}

/// The scalar tail of SwiGLU (libm `expf`), as the reference.
#[inline(always)]
fn swiglu_tail(g: &mut [f32], u: &[f32]) {
    for (x, &y) in g.iter_mut().zip(u) {
        *x = *x / (1.0 + (-*x).exp()) * y;
    }
}

/// ggml's AVX2 `ggml_v_expf` (`act::expf` with `Lanes::L8`).
#[inline(always)]
unsafe fn expf8(x: __m256) -> __m256 {
    // SAFETY: only called from functions compiled with AVX2 and FMA enabled.
    unsafe {
        let r = _mm256_set1_ps(SHIFTER);
        let z = _mm256_fmadd_ps(x, _mm256_set1_ps(LOG2E), r);
        let n = _mm256_sub_ps(z, r);
        let b = _mm256_fnmadd_ps(
            n,
            _mm256_set1_ps(LN2_LO),
            _mm256_fnmadd_ps(n, _mm256_set1_ps(LN2_HI), x),
        );
        let e = _mm256_slli_epi32(_mm256_castps_si256(z), 23);
        let k = _mm256_castsi256_ps(_mm256_add_epi32(
            e,
            _mm256_castps_si256(_mm256_set1_ps(1.0)),
        ));
        let abs_n = _mm256_andnot_ps(_mm256_set1_ps(-0.0), n);
        let c = _mm256_cmp_ps(abs_n, _mm256_set1_ps(126.0), _CMP_GT_OQ);
        let u = _mm256_mul_ps(b, b);
        let hi = _mm256_fmadd_ps(
            _mm256_fmadd_ps(_mm256_set1_ps(P0), b, _mm256_set1_ps(P1)),
            u,
            _mm256_fmadd_ps(_mm256_set1_ps(P2), b, _mm256_set1_ps(P3)),
        );
        let j = _mm256_fmadd_ps(hi, u, _mm256_mul_ps(_mm256_set1_ps(P4), b));
        if _mm256_movemask_ps(c) == 0 {
            return _mm256_fmadd_ps(j, k, k);
        }
        let g = _mm256_and_si256(
            _mm256_castps_si256(_mm256_cmp_ps(n, _mm256_setzero_ps(), _CMP_LE_OQ)),
            _mm256_set1_epi32(0x8200_0000u32 as i32),
        );
        let s1 = _mm256_castsi256_ps(_mm256_add_epi32(g, _mm256_set1_epi32(0x7f00_0000)));
        let s2 = _mm256_castsi256_ps(_mm256_sub_epi32(e, g));
        let d = _mm256_cmp_ps(abs_n, _mm256_set1_ps(192.0), _CMP_GT_OQ);
        let big = _mm256_mul_ps(_mm256_fmadd_ps(s2, j, s2), s1);
        let normal = _mm256_fmadd_ps(k, j, k);
        _mm256_or_ps(
            _mm256_and_ps(d, _mm256_mul_ps(s1, s1)),
            _mm256_andnot_ps(
                d,
                _mm256_or_ps(_mm256_and_ps(c, big), _mm256_andnot_ps(c, normal)),
            ),
        )
    }
}

/// ggml's AVX-512 `ggml_v_expf` (`act::expf` with `Lanes::L16`).
#[inline(always)]
unsafe fn expf16(x: __m512) -> __m512 {
    // SAFETY: only called from functions compiled with AVX-512F enabled.
    unsafe {
        let r = _mm512_set1_ps(SHIFTER);
        let z = _mm512_fmadd_ps(x, _mm512_set1_ps(LOG2E), r);
        let n = _mm512_sub_ps(z, r);
        let b = _mm512_fnmadd_ps(
            n,
            _mm512_set1_ps(LN2_LO),
            _mm512_fnmadd_ps(n, _mm512_set1_ps(LN2_HI), x),
        );
        let d = _mm512_cmp_ps_mask::<_CMP_GT_OQ>(_mm512_abs_ps(n), _mm512_set1_ps(192.0));
        let u = _mm512_mul_ps(b, b);
        let hi = _mm512_fmadd_ps(
            _mm512_fmadd_ps(_mm512_set1_ps(P0), b, _mm512_set1_ps(P1)),
            u,
            _mm512_fmadd_ps(_mm512_set1_ps(P2), b, _mm512_set1_ps(P3)),
        );
        let j = _mm512_fmadd_ps(
            hi,
            u,
            _mm512_fmadd_ps(_mm512_set1_ps(P4), b, _mm512_set1_ps(1.0)),
        );
        let res = _mm512_scalef_ps(j, n);
        if d == 0 {
            return res;
        }
        let zero = _mm512_setzero_ps();
        let le0 = _mm512_cmp_ps_mask::<_CMP_LE_OQ>(n, zero);
        let alt = _mm512_mask_blend_ps(le0, _mm512_set1_ps(f32::INFINITY), zero);
        _mm512_mask_blend_ps(d, res, alt)
    }
}

/// `x / (1 + e^(0 − x))` on 8 lanes.
#[inline(always)]
unsafe fn silu8(x: __m256) -> __m256 {
    // SAFETY: only called from functions compiled with AVX2 and FMA enabled.
    unsafe {
        let e = expf8(_mm256_sub_ps(_mm256_setzero_ps(), x));
        _mm256_div_ps(x, _mm256_add_ps(_mm256_set1_ps(1.0), e))
    }
}

#[target_feature(enable = "avx2,fma")]
unsafe fn swiglu_avx2(g: &mut [f32], u: &[f32]) {
    let n = g.len();
    let main = n - n % 8;
    // SAFETY: indices below `main ≤ n` are in bounds of both slices (equal lengths).
    unsafe {
        let mut i = 0;
        while i < main {
            let p = g.as_mut_ptr().add(i);
            let s = silu8(_mm256_loadu_ps(p));
            _mm256_storeu_ps(p, _mm256_mul_ps(s, _mm256_loadu_ps(u.as_ptr().add(i))));
            i += 8;
        }
    }
    swiglu_tail(&mut g[main..], &u[main..]);
}

#[target_feature(enable = "avx2,fma,avx512f")]
unsafe fn swiglu_avx512(g: &mut [f32], u: &[f32]) {
    let n = g.len();
    let main = n - n % 16;
    // SAFETY: indices below `main ≤ n` are in bounds of both slices (equal lengths).
    unsafe {
        let mut i = 0;
        while i < main {
            let p = g.as_mut_ptr().add(i);
            let x = _mm512_loadu_ps(p);
            let e = expf16(_mm512_sub_ps(_mm512_setzero_ps(), x));
            let s = _mm512_div_ps(x, _mm512_add_ps(_mm512_set1_ps(1.0), e));
            _mm512_storeu_ps(p, _mm512_mul_ps(s, _mm512_loadu_ps(u.as_ptr().add(i))));
            i += 16;
        }
    }
    swiglu_tail(&mut g[main..], &u[main..]);
}

/// The scalar tail of the soft-max exponentials (libm `expf`), as the reference.
#[inline(always)]
fn softmax_tail(x: &mut [f32], max: f32, mut sum: f64) -> f64 {
    for v in x {
        *v = (*v - max).exp();
        sum += *v as f64;
    }
    sum
}

#[target_feature(enable = "avx2,fma")]
unsafe fn softmax_exp_avx2(x: &mut [f32], max: f32) -> f64 {
    let main = x.len() - x.len() % 8;
    let mut sum = 0.0f64;
    // SAFETY: indices below `main ≤ x.len()` are in bounds.
    unsafe {
        let m = _mm256_set1_ps(max);
        let mut i = 0;
        while i < main {
            let p = x.as_mut_ptr().add(i);
            let v = expf8(_mm256_sub_ps(_mm256_loadu_ps(p), m));
            _mm256_storeu_ps(p, v);
            sum += hsum_ps(v) as f64;
            i += 8;
        }
    }
    softmax_tail(&mut x[main..], max, sum)
}

#[target_feature(enable = "avx2,fma,avx512f")]
unsafe fn softmax_exp_avx512(x: &mut [f32], max: f32) -> f64 {
    let main = x.len() - x.len() % 16;
    let mut sum = 0.0f64;
    // SAFETY: indices below `main ≤ x.len()` are in bounds.
    unsafe {
        let m = _mm512_set1_ps(max);
        let mut i = 0;
        while i < main {
            let p = x.as_mut_ptr().add(i);
            let v = expf16(_mm512_sub_ps(_mm512_loadu_ps(p), m));
            _mm512_storeu_ps(p, v);
            // GCC's `_mm512_reduce_add_ps`: the 256-bit halves added, then `hsum_float_8`.
            let h = _mm256_add_ps(
                _mm512_castps512_ps256(v),
                _mm256_castpd_ps(_mm512_extractf64x4_pd::<1>(_mm512_castps_pd(v))),
            );
            sum += hsum_ps(h) as f64;
            i += 16;
        }
    }
    softmax_tail(&mut x[main..], max, sum)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kernels::act::{Lanes, softmax_exp_ref, swiglu_ref};

    fn levels() -> Vec<(X86Level, Lanes)> {
        [
            (X86Level::Avx2, Lanes::L8),
            (X86Level::Avx512Vnni, Lanes::L16),
        ]
        .into_iter()
        .filter(|(l, _)| l.supported())
        .collect()
    }

    fn inputs(n: usize, scale: f32) -> Vec<f32> {
        let mut s = 0x1234_5678u32;
        (0..n)
            .map(|_| {
                s ^= s << 13;
                s ^= s >> 17;
                s ^= s << 5;
                (s as i32 as f32 / i32::MAX as f32) * scale
            })
            .collect()
    }

    #[test]
    fn swiglu_matches_reference_bit_for_bit() {
        for (level, lanes) in levels() {
            for (n, scale) in [
                (4864, 12.0),
                (37, 3.0),
                (16, 200.0),
                (8, 0.5),
                (1000, 110.0),
            ] {
                let mut x = inputs(n, scale);
                x.extend([0.0, -0.0, 88.9, -88.9, 104.5, -104.5, 1e-30, f32::NAN]);
                let u = inputs(x.len(), 2.0);
                let (mut a, mut b) = (x.clone(), x.clone());
                assert!(swiglu(level, &mut a, &u));
                swiglu_ref(lanes, &mut b, &u);
                for (i, (p, q)) in a.iter().zip(&b).enumerate() {
                    assert!(
                        p.to_bits() == q.to_bits() || (p.is_nan() && q.is_nan()),
                        "{level:?} n={n} [{i}] x={}: {p} vs {q}",
                        x[i]
                    );
                }
            }
        }
    }

    #[test]
    fn softmax_exp_matches_reference_bit_for_bit() {
        for (level, lanes) in levels() {
            for (n, scale) in [(96, 30.0), (77, 150.0), (5, 1.0), (2048, 60.0)] {
                let mut x = inputs(n, scale);
                x[n / 2] = f32::NEG_INFINITY;
                let max = x.iter().copied().fold(f32::NEG_INFINITY, f32::max);
                let (mut a, mut b) = (x.clone(), x.clone());
                let sa = softmax_exp(level, &mut a, max);
                let sb = softmax_exp_ref(lanes, &mut b, max);
                assert_eq!(sa.map(f64::to_bits), Some(sb.to_bits()), "{level:?} n={n}");
                for (p, q) in a.iter().zip(&b) {
                    assert_eq!(p.to_bits(), q.to_bits(), "{level:?} n={n}");
                }
            }
        }
    }
}
