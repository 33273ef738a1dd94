//! Quantised weight rows against quantised activations (Q8_0 / Q8_1 / Q8_K), following the
//! structure of ggml's AVX2 kernels: exact integer sums per block, then one FMA per block into
//! an 8-lane f32 accumulator per activation row.
//!
//! Every function: `w` is one weight row (whole blocks) and each `a[r]` the matching activation
//! row with the same number of blocks (the caller's contract, checked in `dot_rows`).
#![allow(unsafe_code)]

use super::{IntDot, f16_at, hsum_ps};
use std::arch::x86_64::*;

/// Bytes ahead of the current weight block to prefetch.
pub(super) const PREFETCH: usize = 1024;

#[inline(always)]
pub(super) unsafe fn load256(p: *const u8) -> __m256i {
    // SAFETY: the caller guarantees 32 readable bytes at `p`; AVX is enabled.
    unsafe { _mm256_loadu_si256(p as *const __m256i) }
}

#[inline(always)]
pub(super) unsafe fn f32_at(p: *const u8) -> f32 {
    // SAFETY: the caller guarantees 4 readable bytes at `p`.
    unsafe { std::ptr::read_unaligned(p as *const f32) }
}

/// 16 bytes of nibbles → 32 bytes 0..15: the low nibbles first, then the high ones.
#[inline(always)]
unsafe fn nibbles(p: *const u8) -> __m256i {
    // SAFETY: the caller guarantees 16 readable bytes at `p`; AVX2 is enabled.
    unsafe {
        let q = _mm_loadu_si128(p as *const __m128i);
        let m = _mm_set1_epi8(0x0F);
        let lo = _mm_and_si128(q, m);
        let hi = _mm_and_si128(_mm_srli_epi16(q, 4), m);
        _mm256_set_m128i(hi, lo)
    }
}

/// The 32 bits at `p` → 32 bytes, 0xFF where the bit is set (bit i → byte i).
#[inline(always)]
unsafe fn bytes_from_bits(p: *const u8) -> __m256i {
    // SAFETY: the caller guarantees 4 readable bytes at `p`; AVX2 is enabled.
    unsafe {
        let x = std::ptr::read_unaligned(p as *const u32);
        let shuf = _mm256_set_epi64x(
            0x0303030303030303,
            0x0202020202020202,
            0x0101010101010101,
            0x0000000000000000,
        );
        let bytes = _mm256_shuffle_epi8(_mm256_set1_epi32(x as i32), shuf);
        let bytes = _mm256_or_si256(bytes, _mm256_set1_epi64x(0x7fbfdfeff7fbfdfe));
        _mm256_cmpeq_epi8(bytes, _mm256_set1_epi64x(-1))
    }
}

#[inline(always)]
pub(super) unsafe fn hsum_epi32_128(v: __m128i) -> i32 {
    // SAFETY: SSE2 is always available on x86-64.
    unsafe {
        let v = _mm_add_epi32(v, _mm_shuffle_epi32(v, 0x4E));
        let v = _mm_add_epi32(v, _mm_shuffle_epi32(v, 0xB1));
        _mm_cvtsi128_si32(v)
    }
}

/// Signed weights `x` (i8) against activations: `|x|` (unsigned) times `y` with `x`'s sign.
#[inline(always)]
unsafe fn signed_dot<D: IntDot>(x: __m256i, y: __m256i) -> __m256i {
    // SAFETY: AVX2 is enabled in the calling kernel.
    unsafe {
        let ax = _mm256_sign_epi8(x, x);
        D::dpbusd(_mm256_setzero_si256(), ax, _mm256_sign_epi8(y, x))
    }
}

/// A 32-element weight block format.
pub(crate) trait Block32 {
    /// Weight block bytes.
    const WB: usize;
    /// Activation block bytes (34: Q8_0, 36: Q8_1 with its sum `s`).
    const AB: usize;
    /// Whether decoded values are signed (else 0..31, paired with a min `m` at offset 2).
    const SIGNED: bool;
    /// The block's 32 values as bytes.
    unsafe fn decode(p: *const u8) -> __m256i;
}

pub(super) struct Q8_0;
pub(super) struct Q4_0;
pub(super) struct Q4_1;
pub(super) struct Q5_0;
pub(super) struct Q5_1;

impl Block32 for Q8_0 {
    const WB: usize = 34;
    const AB: usize = 34;
    const SIGNED: bool = true;
    #[inline(always)]
    unsafe fn decode(p: *const u8) -> __m256i {
        // SAFETY: 32 quants at offset 2 of a 34-byte block.
        unsafe { load256(p.add(2)) }
    }
}

impl Block32 for Q4_0 {
    const WB: usize = 18;
    const AB: usize = 34;
    const SIGNED: bool = true;
    #[inline(always)]
    unsafe fn decode(p: *const u8) -> __m256i {
        // SAFETY: 16 nibble bytes at offset 2 of an 18-byte block.
        unsafe { _mm256_sub_epi8(nibbles(p.add(2)), _mm256_set1_epi8(8)) }
    }
}

impl Block32 for Q4_1 {
    const WB: usize = 20;
    const AB: usize = 36;
    const SIGNED: bool = false;
    #[inline(always)]
    unsafe fn decode(p: *const u8) -> __m256i {
        // SAFETY: 16 nibble bytes at offset 4 of a 20-byte block.
        unsafe { nibbles(p.add(4)) }
    }
}

impl Block32 for Q5_0 {
    const WB: usize = 22;
    const AB: usize = 34;
    const SIGNED: bool = true;
    #[inline(always)]
    unsafe fn decode(p: *const u8) -> __m256i {
        // SAFETY: `qh` (4 bytes) at offset 2 and 16 nibble bytes at offset 6 of a 22-byte
        // block. A clear fifth bit makes the byte `nibble - 16` (0xF0 | nibble as i8).
        unsafe {
            let hi = _mm256_andnot_si256(bytes_from_bits(p.add(2)), _mm256_set1_epi8(0xF0u8 as i8));
            _mm256_or_si256(nibbles(p.add(6)), hi)
        }
    }
}

impl Block32 for Q5_1 {
    const WB: usize = 24;
    const AB: usize = 36;
    const SIGNED: bool = false;
    #[inline(always)]
    unsafe fn decode(p: *const u8) -> __m256i {
        // SAFETY: `qh` at offset 4 and 16 nibble bytes at offset 8 of a 24-byte block.
        unsafe {
            let hi = _mm256_and_si256(bytes_from_bits(p.add(4)), _mm256_set1_epi8(0x10));
            _mm256_or_si256(nibbles(p.add(8)), hi)
        }
    }
}

/// The per-block skeleton of the 32-element types. For the unsigned ones (Q4_1/Q5_1) the
/// weight's `m` times the activation's `s` is summed separately, as ggml does.
#[inline(always)]
pub(super) unsafe fn blocks32<B: Block32, D: IntDot, const R: usize>(
    w: &[u8],
    a: [&[u8]; R],
) -> [f32; R] {
    let nb = w.len() / B::WB;
    let a_qs = if B::AB == 36 { 4 } else { 2 };
    // SAFETY: block `ib < nb` of `w` and of every `a[r]` is in bounds (the caller's contract);
    // AVX2/FMA/F16C are enabled in the calling kernel.
    unsafe {
        let mut acc = [_mm256_setzero_ps(); R];
        let mut summs = [0.0f32; R];
        for ib in 0..nb {
            let wp = w.as_ptr().add(ib * B::WB);
            // Prefetch well ahead in the weight stream (past the row's end is harmless).
            _mm_prefetch::<_MM_HINT_T0>(wp.wrapping_add(PREFETCH) as *const i8);
            let dx = f16_at(wp);
            let x = B::decode(wp);
            for r in 0..R {
                let yp = a[r].as_ptr().add(ib * B::AB);
                let y = load256(yp.add(a_qs));
                let p = if B::SIGNED {
                    signed_dot::<D>(x, y)
                } else {
                    D::dpbusd(_mm256_setzero_si256(), x, y)
                };
                let d = _mm256_set1_ps(dx * f16_at(yp));
                acc[r] = _mm256_fmadd_ps(d, _mm256_cvtepi32_ps(p), acc[r]);
                if !B::SIGNED {
                    summs[r] += f16_at(wp.add(2)) * f16_at(yp.add(2));
                }
            }
        }
        let mut out = [0.0f32; R];
        for r in 0..R {
            out[r] = hsum_ps(acc[r]) + summs[r];
        }
        out
    }
}

/// The 12 packed scale bytes of a Q4_K/Q5_K block → (8 scales, 8 mins) as i16 lanes
/// (ggml's `utmp` unpacking; same values as `reference::scale_min_k4`).
#[inline(always)]
pub(super) unsafe fn scales_mins_k4(p: *const u8) -> (__m128i, __m128i) {
    // SAFETY: the caller guarantees 12 readable bytes at `p`; SSE4.1 is enabled (AVX2).
    unsafe {
        let mut u = [0u32; 4];
        std::ptr::copy_nonoverlapping(p, u.as_mut_ptr() as *mut u8, 12);
        const M1: u32 = 0x3f3f3f3f;
        const M2: u32 = 0x0f0f0f0f;
        const M3: u32 = 0x03030303;
        u[3] = ((u[2] >> 4) & M2) | (((u[1] >> 6) & M3) << 4);
        let aux = u[1] & M1;
        u[1] = (u[2] & M2) | (((u[0] >> 6) & M3) << 4);
        u[2] = aux;
        u[0] &= M1;
        let v = _mm_loadu_si128(u.as_ptr() as *const __m128i);
        (
            _mm_cvtepu8_epi16(v),
            _mm_cvtepu8_epi16(_mm_srli_si128(v, 8)),
        )
    }
}

/// Lane `j` of 8 i16 lanes, broadcast to 16 lanes.
#[inline(always)]
unsafe fn bcast_w(v: __m256i, j: usize) -> __m256i {
    let b = (2 * j) as i16;
    // SAFETY: AVX2 is enabled in the calling kernel.
    unsafe { _mm256_shuffle_epi8(v, _mm256_set1_epi16(((b + 1) << 8) | b)) }
}

/// Q5_K (Q4_K is [`q4_k`]): 8 sub-blocks of 32 with 6-bit scales and mins, a fifth bit per
/// value from `qh`; `Σ min·bsum` from the activation's block sums.
#[inline(always)]
pub(super) unsafe fn q5_k<D: IntDot, const R: usize>(w: &[u8], a: [&[u8]; R]) -> [f32; R] {
    // Super-block: d, dmin (f16), 12 bytes of scales and mins, 32 bytes of high bits, 128 of
    // nibbles.
    let (wb, qs_at) = (176, 48);
    let nb = w.len() / wb;
    // SAFETY: super-block `i < nb` of `w` (`wb` bytes) and of every `a[r]` (292 bytes) is in
    // bounds (the caller's contract); AVX2/FMA/F16C are enabled in the calling kernel.
    unsafe {
        let mut acc = [_mm256_setzero_ps(); R];
        let mut accm = [0.0f32; R];
        let m4 = _mm256_set1_epi8(0x0F);
        let one = _mm256_set1_epi8(1);
        for i in 0..nb {
            let wp = w.as_ptr().add(i * wb);
            let dx = f16_at(wp);
            let dmx = f16_at(wp.add(2));
            let (sc, mins) = scales_mins_k4(wp.add(4));
            let sc = _mm256_broadcastsi128_si256(sc);
            let hbits = load256(wp.add(16));
            let mut sumi = [_mm256_setzero_si256(); R];
            for j in 0..4 {
                let q = load256(wp.add(qs_at + 32 * j));
                let s0 = _mm_cvtsi32_si128(2 * j as i32);
                let s1 = _mm_cvtsi32_si128(2 * j as i32 + 1);
                let b0 = _mm256_and_si256(_mm256_srl_epi16(hbits, s0), one);
                let b1 = _mm256_and_si256(_mm256_srl_epi16(hbits, s1), one);
                let lo = _mm256_or_si256(_mm256_and_si256(q, m4), _mm256_slli_epi16(b0, 4));
                let hi = _mm256_or_si256(
                    _mm256_and_si256(_mm256_srli_epi16(q, 4), m4),
                    _mm256_slli_epi16(b1, 4),
                );
                let s_lo = bcast_w(sc, 2 * j);
                let s_hi = bcast_w(sc, 2 * j + 1);
                for r in 0..R {
                    let yp = a[r].as_ptr().add(i * 292 + 4 + 64 * j);
                    let p_lo = _mm256_maddubs_epi16(lo, load256(yp));
                    let p_hi = _mm256_maddubs_epi16(hi, load256(yp.add(32)));
                    sumi[r] = D::dpwssd(sumi[r], p_lo, s_lo);
                    sumi[r] = D::dpwssd(sumi[r], p_hi, s_hi);
                }
            }
            for r in 0..R {
                let yp = a[r].as_ptr().add(i * 292);
                let dy = f32_at(yp);
                let bs = load256(yp.add(260));
                let pairs =
                    _mm_hadd_epi16(_mm256_castsi256_si128(bs), _mm256_extracti128_si256(bs, 1));
                let summ = hsum_epi32_128(_mm_madd_epi16(mins, pairs));
                acc[r] =
                    _mm256_fmadd_ps(_mm256_set1_ps(dx * dy), _mm256_cvtepi32_ps(sumi[r]), acc[r]);
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

/// One Q4_K super-block's float step, as llama.cpp's repacked Q4_K kernels
/// (`reference::q4_k_dot`): for j = 0, 1, 2, 3 in turn, `acc = fma(Σ_j, d·dy, acc)` and
/// `accm = fma(Σm_j, dmin·dy, accm)`, from the exact sums in lanes 0..4 of `sums` and `mins`.
/// `acc` and `accm` are lanes 0 and 1 of `acc2`.
#[inline(always)]
pub(super) unsafe fn q4_k_chain(
    sums: __m128i,
    mins: __m128i,
    dd: f32,
    dm: f32,
    acc2: __m128,
) -> __m128 {
    // SAFETY: SSE2 is always available; FMA is enabled in the calling kernel.
    unsafe {
        let (tf, mf) = (_mm_cvtepi32_ps(sums), _mm_cvtepi32_ps(mins));
        let d2 = _mm_set_ps(dm, dd, dm, dd);
        let lo = _mm_unpacklo_ps(tf, mf);
        let hi = _mm_unpackhi_ps(tf, mf);
        let acc2 = _mm_fmadd_ps(lo, d2, acc2);
        let acc2 = _mm_fmadd_ps(_mm_movehl_ps(lo, lo), d2, acc2);
        let acc2 = _mm_fmadd_ps(hi, d2, acc2);
        _mm_fmadd_ps(_mm_movehl_ps(hi, hi), d2, acc2)
    }
}

/// `acc − accm` from [`q4_k_chain`]'s register.
#[inline(always)]
pub(super) unsafe fn q4_k_result(acc2: __m128) -> f32 {
    // SAFETY: SSE3 is available with AVX2.
    unsafe { _mm_cvtss_f32(acc2) - _mm_cvtss_f32(_mm_movehdup_ps(acc2)) }
}

/// Byte shuffle picking i16 scale `s` in the low 128-bit lane and `s + 2` in the high one.
#[inline(always)]
unsafe fn scale_pick(s: i16) -> __m256i {
    // SAFETY: AVX is enabled in the calling kernel.
    unsafe {
        let lo = _mm_set1_epi16(((2 * s + 1) << 8) | (2 * s));
        let hi = _mm_set1_epi16(((2 * s + 5) << 8) | (2 * s + 4));
        _mm256_set_m128i(hi, lo)
    }
}

/// Q4_K: 8 sub-blocks of 32 with 6-bit scales and mins, in the arithmetic of llama.cpp's
/// repacked Q4_K kernels (see [`q4_k_chain`]). The activation is in `AType::Q8_KT` order: the
/// 32 bytes at `64k + 32h` are piece `k` of pairs `2h` and `2h + 1`, so one accumulator per `h`
/// keeps pair `2h` in its low 128 bits and pair `2h + 1` in its high 128 bits, and the exact
/// sum of each pair needs no horizontal sum per pair.
#[inline(always)]
pub(super) unsafe fn q4_k<D: IntDot, const R: usize>(w: &[u8], a: [&[u8]; R]) -> [f32; R] {
    let nb = w.len() / 144;
    // SAFETY: super-block `i < nb` of `w` (144 bytes) and of every `a[r]` (292 bytes) is in
    // bounds (the caller's contract); AVX2/FMA/F16C are enabled in the calling kernel.
    unsafe {
        let picks = [scale_pick(0), scale_pick(1), scale_pick(4), scale_pick(5)];
        let mut acc = [_mm_setzero_ps(); R];
        let m4 = _mm256_set1_epi8(0x0F);
        for i in 0..nb {
            let wp = w.as_ptr().add(i * 144);
            let (sc, mins) = scales_mins_k4(wp.add(4));
            let sc = _mm256_broadcastsi128_si256(sc);
            // x[h][k]: pieces k of pairs 2h, 2h + 1; sv[h][k / 2]: their scales.
            let mut x = [[_mm256_setzero_si256(); 4]; 2];
            let mut sv = [[_mm256_setzero_si256(); 2]; 2];
            for h in 0..2 {
                let pa = load256(wp.add(16 + 64 * h));
                let pb = load256(wp.add(48 + 64 * h));
                let p0 = _mm256_permute2x128_si256::<0x20>(pa, pb);
                let p1 = _mm256_permute2x128_si256::<0x31>(pa, pb);
                x[h] = [
                    _mm256_and_si256(p0, m4),
                    _mm256_and_si256(p1, m4),
                    _mm256_and_si256(_mm256_srli_epi16(p0, 4), m4),
                    _mm256_and_si256(_mm256_srli_epi16(p1, 4), m4),
                ];
                sv[h] = [
                    _mm256_shuffle_epi8(sc, picks[2 * h]),
                    _mm256_shuffle_epi8(sc, picks[2 * h + 1]),
                ];
            }
            let dx = f16_at(wp);
            let dmx = f16_at(wp.add(2));
            for r in 0..R {
                let yp = a[r].as_ptr().add(i * 292);
                let mut t = [_mm256_setzero_si256(); 2];
                for h in 0..2 {
                    for k in 0..4 {
                        let y = load256(yp.add(4 + 64 * k + 32 * h));
                        let p = _mm256_maddubs_epi16(x[h][k], y);
                        t[h] = D::dpwssd(t[h], p, sv[h][k / 2]);
                    }
                }
                // [T0, T2 | T1, T3] partials → [T0, T1, T2, T3].
                let h2 = _mm256_hadd_epi32(t[0], t[1]);
                let h2 = _mm256_hadd_epi32(h2, h2);
                let sums =
                    _mm_unpacklo_epi32(_mm256_castsi256_si128(h2), _mm256_extracti128_si256(h2, 1));
                let dy = f32_at(yp);
                let bs = load256(yp.add(260));
                let pairs =
                    _mm_hadd_epi16(_mm256_castsi256_si128(bs), _mm256_extracti128_si256(bs, 1));
                let summ = _mm_madd_epi16(mins, pairs);
                acc[r] = q4_k_chain(sums, summ, dx * dy, dmx * dy, acc[r]);
            }
        }
        let mut out = [0.0f32; R];
        for r in 0..R {
            out[r] = q4_k_result(acc[r]);
        }
        out
    }
}

/// Bits `s..s+2` of each byte of `qh`, moved to bits 4..6.
#[inline(always)]
unsafe fn q6_high(qh: __m256i, s: i32, m3: __m256i) -> __m256i {
    // SAFETY: AVX2 is enabled in the calling kernel.
    unsafe {
        let h = _mm256_srl_epi16(qh, _mm_cvtsi32_si128(s));
        _mm256_slli_epi16(_mm256_and_si256(h, m3), 4)
    }
}

/// Q6_K: 16 groups of 16 with i8 scales; values 0..63 offset by 32. As ggml's AVX2 kernel, the
/// offset is subtracted from each pair of products (`maddubs(q, y) − maddubs(32, y)`) before
/// the scales, so every i32 lane holds the same partial sum as ggml's.
#[inline(always)]
pub(super) unsafe fn q6_k<D: IntDot, const R: usize>(w: &[u8], a: [&[u8]; R]) -> [f32; R] {
    let nb = w.len() / 210;
    // SAFETY: super-block `i < nb` of `w` (210 bytes) and of every `a[r]` (292 bytes) is in
    // bounds (the caller's contract); AVX2/FMA/F16C are enabled in the calling kernel.
    unsafe {
        let mut acc = [_mm256_setzero_ps(); R];
        let m4 = _mm256_set1_epi8(0x0F);
        let m3 = _mm256_set1_epi8(3);
        let m32 = _mm256_set1_epi8(32);
        for i in 0..nb {
            let wp = w.as_ptr().add(i * 210);
            let dx = f16_at(wp.add(208));
            let sc8 = _mm_loadu_si128(wp.add(192) as *const __m128i);
            let mut sumi = [_mm256_setzero_si256(); R];
            for half in 0..2 {
                let ql0 = load256(wp.add(64 * half));
                let ql1 = load256(wp.add(64 * half + 32));
                let qh = load256(wp.add(128 + 32 * half));
                let q = [
                    _mm256_or_si256(_mm256_and_si256(ql0, m4), q6_high(qh, 0, m3)),
                    _mm256_or_si256(_mm256_and_si256(ql1, m4), q6_high(qh, 2, m3)),
                    _mm256_or_si256(
                        _mm256_and_si256(_mm256_srli_epi16(ql0, 4), m4),
                        q6_high(qh, 4, m3),
                    ),
                    _mm256_or_si256(
                        _mm256_and_si256(_mm256_srli_epi16(ql1, 4), m4),
                        q6_high(qh, 6, m3),
                    ),
                ];
                for (quarter, qv) in q.iter().enumerate() {
                    // Scales of groups 2P and 2P+1 (P = pair index) over 8 lanes each.
                    let g = (8 * half + 2 * quarter) as i64;
                    let ones = 0x0101010101010101i64;
                    let pick = _mm_set_epi64x((g + 1) * ones, g * ones);
                    let sv = _mm256_cvtepi8_epi16(_mm_shuffle_epi8(sc8, pick));
                    for r in 0..R {
                        let yp = a[r].as_ptr().add(i * 292 + 4 + 128 * half + 32 * quarter);
                        let y = load256(yp);
                        let p = _mm256_sub_epi16(
                            _mm256_maddubs_epi16(*qv, y),
                            _mm256_maddubs_epi16(m32, y),
                        );
                        sumi[r] = D::dpwssd(sumi[r], p, sv);
                    }
                }
            }
            for r in 0..R {
                let dy = f32_at(a[r].as_ptr().add(i * 292));
                acc[r] =
                    _mm256_fmadd_ps(_mm256_set1_ps(dy * dx), _mm256_cvtepi32_ps(sumi[r]), acc[r]);
            }
        }
        let mut out = [0.0f32; R];
        for r in 0..R {
            out[r] = hsum_ps(acc[r]);
        }
        out
    }
}
