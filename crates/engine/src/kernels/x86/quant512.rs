//! AVX-512 form of the 32-element block kernels: two blocks per 512-bit register, so each
//! block costs about half the instructions of the 256-bit form. Same integer sums as the
//! reference; only the f32 summation order differs.
#![allow(unsafe_code)]

use super::IntDot;
use super::quant::{Block32, PREFETCH, load256};
use super::{VnniDot, f16_at, hsum_ps};
use std::arch::x86_64::*;

/// Two little-endian f16 (at `p0`, `p1`) → lanes 0 and 1 of an f32 vector.
#[inline(always)]
unsafe fn f16_pair(p0: *const u8, p1: *const u8) -> __m128 {
    // SAFETY: the caller guarantees two readable bytes at each pointer; F16C is enabled.
    unsafe {
        let h0 = std::ptr::read_unaligned(p0 as *const u16) as i32;
        let h1 = std::ptr::read_unaligned(p1 as *const u16) as i32;
        _mm_cvtph_ps(_mm_insert_epi16(_mm_cvtsi32_si128(h0), h1, 1))
    }
}

/// `[lo; hi]` of two 256-bit halves.
#[inline(always)]
unsafe fn join(lo: __m256i, hi: __m256i) -> __m512i {
    // SAFETY: AVX-512F is enabled in the calling kernel.
    unsafe { _mm512_inserti64x4(_mm512_castsi256_si512(lo), hi, 1) }
}

/// Row dot products for a 32-element block type; pairs of blocks in 512-bit lanes, an odd
/// last block in 256-bit lanes.
#[inline(always)]
pub(super) unsafe fn blocks32<B: Block32, const R: usize>(w: &[u8], a: [&[u8]; R]) -> [f32; R] {
    let nb = w.len() / B::WB;
    let a_qs = if B::AB == 36 { 4 } else { 2 };
    // SAFETY: blocks `< nb` of `w` and of every `a[r]` are in bounds (the caller's contract);
    // AVX-512 F/BW/VL/VNNI, AVX2, FMA and F16C are enabled in the calling kernel.
    unsafe {
        // Lanes 0..8 take the first block's scale, 8..16 the second's.
        let spread = _mm512_set_epi32(1, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0);
        let zero = _mm512_setzero_si512();
        let mut acc = [_mm512_setzero_ps(); R];
        let mut summs = [0.0f32; R];
        let pairs = nb / 2;
        for ib in 0..pairs {
            let w0 = w.as_ptr().add(2 * ib * B::WB);
            let w1 = w0.add(B::WB);
            _mm_prefetch::<_MM_HINT_T0>(w0.wrapping_add(PREFETCH) as *const i8);
            let x = join(B::decode(w0), B::decode(w1));
            let dx = f16_pair(w0, w1);
            let (ax, neg) = if B::SIGNED {
                (_mm512_abs_epi8(x), _mm512_movepi8_mask(x))
            } else {
                (x, 0)
            };
            for r in 0..R {
                let y0 = a[r].as_ptr().add(2 * ib * B::AB);
                let y1 = y0.add(B::AB);
                let mut y = join(load256(y0.add(a_qs)), load256(y1.add(a_qs)));
                if B::SIGNED {
                    y = _mm512_mask_sub_epi8(y, neg, zero, y);
                }
                let p = _mm512_dpbusd_epi32(zero, ax, y);
                let d = _mm_mul_ps(dx, f16_pair(y0, y1));
                let dv = _mm512_permutexvar_ps(spread, _mm512_castps128_ps512(d));
                acc[r] = _mm512_fmadd_ps(dv, _mm512_cvtepi32_ps(p), acc[r]);
                if !B::SIGNED {
                    let m = _mm_mul_ps(
                        f16_pair(w0.add(2), w1.add(2)),
                        f16_pair(y0.add(2), y1.add(2)),
                    );
                    summs[r] += _mm_cvtss_f32(m) + _mm_cvtss_f32(_mm_movehdup_ps(m));
                }
            }
        }
        let mut out = [0.0f32; R];
        for r in 0..R {
            let mut v = _mm256_add_ps(
                _mm512_castps512_ps256(acc[r]),
                _mm256_castpd_ps(_mm512_extractf64x4_pd::<1>(_mm512_castps_pd(acc[r]))),
            );
            if nb % 2 == 1 {
                let wp = w.as_ptr().add((nb - 1) * B::WB);
                let yp = a[r].as_ptr().add((nb - 1) * B::AB);
                let x = B::decode(wp);
                let y = load256(yp.add(a_qs));
                let p = if B::SIGNED {
                    VnniDot::dpbusd(
                        _mm256_setzero_si256(),
                        _mm256_abs_epi8(x),
                        _mm256_sign_epi8(y, x),
                    )
                } else {
                    VnniDot::dpbusd(_mm256_setzero_si256(), x, y)
                };
                let d = _mm256_set1_ps(f16_at(wp) * f16_at(yp));
                v = _mm256_fmadd_ps(d, _mm256_cvtepi32_ps(p), v);
                if !B::SIGNED {
                    summs[r] += f16_at(wp.add(2)) * f16_at(yp.add(2));
                }
            }
            out[r] = hsum_ps(v) + summs[r];
        }
        out
    }
}

/// Q4_K / Q5_K (`FIVE`) with each pair of 32-element sub-blocks in one 512-bit register (the
/// low nibbles of 32 bytes, then their high nibbles, matching 64 contiguous activation
/// bytes). Integer sums are reduced to 8 lanes before the same float steps as the AVX2 form.
#[inline(always)]
pub(super) unsafe fn k4_k5<const R: usize, const FIVE: bool>(w: &[u8], a: [&[u8]; R]) -> [f32; R] {
    use super::quant::{f32_at, hsum_epi32_128, scales_mins_k4};
    let wb = if FIVE { 176 } else { 144 };
    let qs_at = if FIVE { 48 } else { 16 };
    let nb = w.len() / wb;
    // SAFETY: super-block `i < nb` of `w` (`wb` bytes) and of every `a[r]` (292 bytes) is in
    // bounds (the caller's contract); AVX-512 F/BW/VL/VNNI, AVX2, FMA, F16C are enabled.
    unsafe {
        let mut acc = [_mm256_setzero_ps(); R];
        let mut accm = [0.0f32; R];
        let m4 = _mm256_set1_epi8(0x0F);
        let one = _mm256_set1_epi8(1);
        for i in 0..nb {
            let wp = w.as_ptr().add(i * wb);
            _mm_prefetch::<_MM_HINT_T0>(wp.wrapping_add(PREFETCH) as *const i8);
            let dx = f16_at(wp);
            let dmx = f16_at(wp.add(2));
            let (sc, mins) = scales_mins_k4(wp.add(4));
            let sc = _mm512_broadcast_i32x4(sc);
            let hbits = if FIVE {
                load256(wp.add(16))
            } else {
                _mm256_setzero_si256()
            };
            let mut sumi = [_mm512_setzero_si512(); R];
            for j in 0..4 {
                let q = load256(wp.add(qs_at + 32 * j));
                let mut lo = _mm256_and_si256(q, m4);
                let mut hi = _mm256_and_si256(_mm256_srli_epi16(q, 4), m4);
                if FIVE {
                    let s0 = _mm_cvtsi32_si128(2 * j as i32);
                    let s1 = _mm_cvtsi32_si128(2 * j as i32 + 1);
                    let b0 = _mm256_and_si256(_mm256_srl_epi16(hbits, s0), one);
                    let b1 = _mm256_and_si256(_mm256_srl_epi16(hbits, s1), one);
                    lo = _mm256_or_si256(lo, _mm256_slli_epi16(b0, 4));
                    hi = _mm256_or_si256(hi, _mm256_slli_epi16(b1, 4));
                }
                let x = join(lo, hi);
                let idx = join(
                    _mm256_set1_epi16(2 * j as i16),
                    _mm256_set1_epi16(2 * j as i16 + 1),
                );
                let sv = _mm512_permutexvar_epi16(idx, sc);
                for r in 0..R {
                    let yp = a[r].as_ptr().add(i * 292 + 4 + 64 * j);
                    let y = _mm512_loadu_si512(yp as *const __m512i);
                    let p = _mm512_maddubs_epi16(x, y);
                    sumi[r] = _mm512_dpwssd_epi32(sumi[r], p, sv);
                }
            }
            for r in 0..R {
                let yp = a[r].as_ptr().add(i * 292);
                let dy = f32_at(yp);
                let bs = load256(yp.add(260));
                let pairs =
                    _mm_hadd_epi16(_mm256_castsi256_si128(bs), _mm256_extracti128_si256(bs, 1));
                let summ = hsum_epi32_128(_mm_madd_epi16(mins, pairs));
                let s8 = _mm256_add_epi32(
                    _mm512_castsi512_si256(sumi[r]),
                    _mm512_extracti64x4_epi64::<1>(sumi[r]),
                );
                acc[r] = _mm256_fmadd_ps(_mm256_set1_ps(dx * dy), _mm256_cvtepi32_ps(s8), acc[r]);
                accm[r] += (dmx * dy) * summ as f32;
            }
        }
        let mut out = [0.0f32; R];
        for r in 0..R {
            out[r] = hsum_ps(acc[r]) - accm[r];
        }
        out
    }
}
