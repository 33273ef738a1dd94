//! f32 / f16 / bf16 weight rows against activations of the same type: lanes are widened to
//! f32 and accumulated with FMA in two 8-lane accumulators (as ggml's `vec_dot_f16`).
#![allow(unsafe_code)]

use super::hsum_ps;
use std::arch::x86_64::*;

/// Loads 8 elements of a float format at element index `i` as f32 lanes.
trait Lanes {
    const BYTES: usize;
    unsafe fn load8(p: *const u8, i: usize) -> __m256;
    unsafe fn one(p: *const u8, i: usize) -> f32;
}

struct F32;
struct F16;
struct Bf16;

impl Lanes for F32 {
    const BYTES: usize = 4;
    #[inline(always)]
    unsafe fn load8(p: *const u8, i: usize) -> __m256 {
        // SAFETY: the caller guarantees 8 readable f32 at element `i`; AVX is enabled.
        unsafe { _mm256_loadu_ps(p.add(4 * i) as *const f32) }
    }
    #[inline(always)]
    unsafe fn one(p: *const u8, i: usize) -> f32 {
        // SAFETY: the caller guarantees a readable f32 at element `i`.
        unsafe { std::ptr::read_unaligned(p.add(4 * i) as *const f32) }
    }
}

impl Lanes for F16 {
    const BYTES: usize = 2;
    #[inline(always)]
    unsafe fn load8(p: *const u8, i: usize) -> __m256 {
        // SAFETY: the caller guarantees 8 readable f16 at element `i`; F16C is enabled.
        unsafe { _mm256_cvtph_ps(_mm_loadu_si128(p.add(2 * i) as *const __m128i)) }
    }
    #[inline(always)]
    unsafe fn one(p: *const u8, i: usize) -> f32 {
        // SAFETY: the caller guarantees a readable f16 at element `i`; F16C is enabled.
        unsafe { super::f16_at(p.add(2 * i)) }
    }
}

impl Lanes for Bf16 {
    const BYTES: usize = 2;
    #[inline(always)]
    unsafe fn load8(p: *const u8, i: usize) -> __m256 {
        // SAFETY: the caller guarantees 8 readable bf16 at element `i`; AVX2 is enabled.
        unsafe {
            let h = _mm_loadu_si128(p.add(2 * i) as *const __m128i);
            _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_cvtepu16_epi32(h), 16))
        }
    }
    #[inline(always)]
    unsafe fn one(p: *const u8, i: usize) -> f32 {
        // SAFETY: the caller guarantees a readable bf16 at element `i`.
        let h = unsafe { std::ptr::read_unaligned(p.add(2 * i) as *const u16) };
        f32::from_bits((h as u32) << 16)
    }
}

/// `R` dot products of one weight row with `R` activation rows, `k` elements of format `L`.
/// Same operation sequence for every row: 16 elements per step into two FMA accumulators,
/// horizontal sum of their sum, then the leftover elements in order.
#[inline(always)]
unsafe fn dot<L: Lanes, const R: usize>(k: usize, w: &[u8], a: [&[u8]; R]) -> [f32; R] {
    debug_assert!(w.len() >= k * L::BYTES);
    let wp = w.as_ptr();
    let ap = a.map(|r| r.as_ptr());
    let main = k / 16 * 16;
    // SAFETY: `w` and every row of `a` hold `k` elements (the caller's contract), and only
    // elements below `k` are read; the enabling function has AVX2, FMA and F16C.
    unsafe {
        let mut acc0 = [_mm256_setzero_ps(); R];
        let mut acc1 = [_mm256_setzero_ps(); R];
        let mut i = 0;
        while i < main {
            let w0 = L::load8(wp, i);
            let w1 = L::load8(wp, i + 8);
            for r in 0..R {
                acc0[r] = _mm256_fmadd_ps(w0, L::load8(ap[r], i), acc0[r]);
                acc1[r] = _mm256_fmadd_ps(w1, L::load8(ap[r], i + 8), acc1[r]);
            }
            i += 16;
        }
        let mut out = [0.0f32; R];
        for r in 0..R {
            let mut s = hsum_ps(_mm256_add_ps(acc0[r], acc1[r]));
            for j in main..k {
                s += L::one(wp, j) * L::one(ap[r], j);
            }
            out[r] = s;
        }
        out
    }
}

#[inline(always)]
pub(super) unsafe fn dot_f32<const R: usize>(k: usize, w: &[u8], a: [&[u8]; R]) -> [f32; R] {
    // SAFETY: forwarded from the caller.
    unsafe { dot::<F32, R>(k, w, a) }
}

#[inline(always)]
pub(super) unsafe fn dot_f16<const R: usize>(k: usize, w: &[u8], a: [&[u8]; R]) -> [f32; R] {
    // SAFETY: forwarded from the caller.
    unsafe { dot::<F16, R>(k, w, a) }
}

#[inline(always)]
pub(super) unsafe fn dot_bf16<const R: usize>(k: usize, w: &[u8], a: [&[u8]; R]) -> [f32; R] {
    // SAFETY: forwarded from the caller.
    unsafe { dot::<Bf16, R>(k, w, a) }
}
