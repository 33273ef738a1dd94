//! AVX-512 form of the 32-element block kernels: two blocks per 512-bit register, so each
//! block costs about half the instructions of the 256-bit form. Same integer sums as the
//! reference; only the f32 summation order differs.
#![allow(unsafe_code)]

use super::IntDot;
use super::quant::{Block32, load256};
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

/// Dot products of `W` weight rows with `R` activation rows for a 32-element block type
/// (`out[i][r]` = weight row `i` · activation row `r`); pairs of blocks in 512-bit lanes, an
/// odd last block in 256-bit lanes. Each decoded weight pair is reused for the `R` activation
/// rows and each loaded activation pair for the `W` weight rows, and every output element goes
/// through the same operations whatever `W` and `R` are.
///
/// Signed types: the weights are offset by 128 to unsigned bytes for `vpdpbusd`, and the
/// accumulator starts at `-128·Σy` so the integer sum is exactly `Σ x·y`.
#[inline(always)]
pub(super) unsafe fn tile32<B: Block32, const W: usize, const R: usize>(
    w: [&[u8]; W],
    a: [&[u8]; R],
) -> [[f32; R]; W] {
    let nb = w[0].len() / B::WB;
    let a_qs = if B::AB == 36 { 4 } else { 2 };
    // SAFETY: blocks `< nb` of every `w[i]` and every `a[r]` are in bounds (the caller's
    // contract: whole rows with the same number of blocks); AVX-512 F/BW/VL/VNNI, AVX2, FMA
    // and F16C are enabled in the calling kernel.
    unsafe {
        // Lanes 0..8 take the first block's scale, 8..16 the second's.
        let spread = _mm512_set_epi32(1, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0);
        let zero = _mm512_setzero_si512();
        let off = _mm512_set1_epi8(0x80u8 as i8);
        let mut acc = [[_mm512_setzero_ps(); R]; W];
        let mut summs = [[0.0f32; R]; W];
        let pairs = nb / 2;
        for ib in 0..pairs {
            let mut xs = [zero; W];
            let mut dws = [_mm512_setzero_ps(); W];
            for i in 0..W {
                let w0 = w[i].as_ptr().add(2 * ib * B::WB);
                let w1 = w0.add(B::WB);
                let x = join(B::decode(w0), B::decode(w1));
                xs[i] = if B::SIGNED {
                    _mm512_xor_si512(x, off)
                } else {
                    x
                };
                dws[i] = _mm512_permutexvar_ps(spread, _mm512_castps128_ps512(f16_pair(w0, w1)));
            }
            for r in 0..R {
                let y0 = a[r].as_ptr().add(2 * ib * B::AB);
                let y1 = y0.add(B::AB);
                let y = join(load256(y0.add(a_qs)), load256(y1.add(a_qs)));
                let dy = _mm512_permutexvar_ps(spread, _mm512_castps128_ps512(f16_pair(y0, y1)));
                let start = if B::SIGNED {
                    _mm512_sub_epi32(zero, _mm512_dpbusd_epi32(zero, off, y))
                } else {
                    zero
                };
                for i in 0..W {
                    let p = _mm512_dpbusd_epi32(start, xs[i], y);
                    let d = _mm512_mul_ps(dws[i], dy);
                    acc[i][r] = _mm512_fmadd_ps(d, _mm512_cvtepi32_ps(p), acc[i][r]);
                    if !B::SIGNED {
                        let w0 = w[i].as_ptr().add(2 * ib * B::WB);
                        let m = _mm_mul_ps(
                            f16_pair(w0.add(2), w0.add(B::WB + 2)),
                            f16_pair(y0.add(2), y1.add(2)),
                        );
                        summs[i][r] += _mm_cvtss_f32(m) + _mm_cvtss_f32(_mm_movehdup_ps(m));
                    }
                }
            }
        }
        let mut out = [[0.0f32; R]; W];
        for i in 0..W {
            for r in 0..R {
                let mut v = _mm256_add_ps(
                    _mm512_castps512_ps256(acc[i][r]),
                    _mm256_castpd_ps(_mm512_extractf64x4_pd::<1>(_mm512_castps_pd(acc[i][r]))),
                );
                if nb % 2 == 1 {
                    let wp = w[i].as_ptr().add((nb - 1) * B::WB);
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
                        summs[i][r] += f16_at(wp.add(2)) * f16_at(yp.add(2));
                    }
                }
                out[i][r] = hsum_ps(v) + summs[i][r];
            }
        }
        out
    }
}

/// Q5_K (`FIVE`; Q4_K is [`tile_q4_k`]) for `W` weight rows × `R` activation rows, with each pair of
/// 32-element sub-blocks in one 512-bit register (the low nibbles of 32 bytes, then their high
/// nibbles, matching 64 contiguous activation bytes). Integer sums are reduced to 8 lanes
/// before the same float steps as the AVX2 form. Every output element goes through the same
/// operations whatever `W` and `R` are.
#[inline(always)]
pub(super) unsafe fn tile_k4_k5<const W: usize, const R: usize, const FIVE: bool>(
    w: [&[u8]; W],
    a: [&[u8]; R],
) -> [[f32; R]; W] {
    use super::quant::{f32_at, hsum_epi32_128, scales_mins_k4};
    let wb = if FIVE { 176 } else { 144 };
    let qs_at = if FIVE { 48 } else { 16 };
    let nb = w[0].len() / wb;
    // SAFETY: super-block `s < nb` of every `w[i]` (`wb` bytes) and of every `a[r]` (292
    // bytes) is in bounds (the caller's contract); AVX-512 F/BW/VL/VNNI, AVX2, FMA, F16C are
    // enabled in the calling kernel.
    unsafe {
        let mut acc = [[_mm256_setzero_ps(); R]; W];
        let mut accm = [[0.0f32; R]; W];
        let m4 = _mm256_set1_epi8(0x0F);
        let one = _mm256_set1_epi8(1);
        for s in 0..nb {
            let mut sc = [_mm512_setzero_si512(); W];
            let mut mins = [_mm_setzero_si128(); W];
            for i in 0..W {
                let wp = w[i].as_ptr().add(s * wb);
                let (c, m) = scales_mins_k4(wp.add(4));
                sc[i] = _mm512_broadcast_i32x4(c);
                mins[i] = m;
            }
            let mut sumi = [[_mm512_setzero_si512(); R]; W];
            for j in 0..4 {
                let idx = join(
                    _mm256_set1_epi16(2 * j as i16),
                    _mm256_set1_epi16(2 * j as i16 + 1),
                );
                let mut xs = [_mm512_setzero_si512(); W];
                let mut svs = [_mm512_setzero_si512(); W];
                for i in 0..W {
                    let wp = w[i].as_ptr().add(s * wb);
                    let q = load256(wp.add(qs_at + 32 * j));
                    let mut lo = _mm256_and_si256(q, m4);
                    let mut hi = _mm256_and_si256(_mm256_srli_epi16(q, 4), m4);
                    if FIVE {
                        let hbits = load256(wp.add(16));
                        let s0 = _mm_cvtsi32_si128(2 * j as i32);
                        let s1 = _mm_cvtsi32_si128(2 * j as i32 + 1);
                        let b0 = _mm256_and_si256(_mm256_srl_epi16(hbits, s0), one);
                        let b1 = _mm256_and_si256(_mm256_srl_epi16(hbits, s1), one);
                        lo = _mm256_or_si256(lo, _mm256_slli_epi16(b0, 4));
                        hi = _mm256_or_si256(hi, _mm256_slli_epi16(b1, 4));
                    }
                    xs[i] = join(lo, hi);
                    svs[i] = _mm512_permutexvar_epi16(idx, sc[i]);
                }
                for r in 0..R {
                    let yp = a[r].as_ptr().add(s * 292 + 4 + 64 * j);
                    let y = _mm512_loadu_si512(yp as *const __m512i);
                    for i in 0..W {
                        let p = _mm512_maddubs_epi16(xs[i], y);
                        sumi[i][r] = _mm512_dpwssd_epi32(sumi[i][r], p, svs[i]);
                    }
                }
            }
            for r in 0..R {
                let yp = a[r].as_ptr().add(s * 292);
                let dy = f32_at(yp);
                let bs = load256(yp.add(260));
                let pairs =
                    _mm_hadd_epi16(_mm256_castsi256_si128(bs), _mm256_extracti128_si256(bs, 1));
                for i in 0..W {
                    let wp = w[i].as_ptr().add(s * wb);
                    let dx = f16_at(wp);
                    let dmx = f16_at(wp.add(2));
                    let summ = hsum_epi32_128(_mm_madd_epi16(mins[i], pairs));
                    let s8 = _mm256_add_epi32(
                        _mm512_castsi512_si256(sumi[i][r]),
                        _mm512_extracti64x4_epi64::<1>(sumi[i][r]),
                    );
                    acc[i][r] =
                        _mm256_fmadd_ps(_mm256_set1_ps(dx * dy), _mm256_cvtepi32_ps(s8), acc[i][r]);
                    accm[i][r] += (dmx * dy) * summ as f32;
                }
            }
        }
        let mut out = [[0.0f32; R]; W];
        for i in 0..W {
            for r in 0..R {
                out[i][r] = hsum_ps(acc[i][r]) - accm[i][r];
            }
        }
        out
    }
}

/// The totals of 16 vectors of 16 i32 lanes: lane `4c + k` of the result is the sum of the
/// lanes of `v[4k + c]` (a transposing tree of 128-bit shuffles, unpacks and adds).
#[inline(always)]
unsafe fn reduce16_epi32(v: [__m512i; 16]) -> __m512i {
    // SAFETY: AVX-512F is enabled in the calling kernel.
    unsafe {
        let mut s1 = [_mm512_setzero_si512(); 8];
        for (a, o) in s1.iter_mut().enumerate() {
            let (x, y) = (v[2 * a], v[2 * a + 1]);
            // [x.q0+x.q2, x.q1+x.q3, y.q0+y.q2, y.q1+y.q3]
            *o = _mm512_add_epi32(
                _mm512_shuffle_i64x2::<0x44>(x, y),
                _mm512_shuffle_i64x2::<0xEE>(x, y),
            );
        }
        let mut s2 = [_mm512_setzero_si512(); 4];
        for (b, o) in s2.iter_mut().enumerate() {
            let (x, y) = (s1[2 * b], s1[2 * b + 1]);
            // 128-bit chunk c: v[4b + c] folded to 4 lanes.
            *o = _mm512_add_epi32(
                _mm512_shuffle_i64x2::<0x88>(x, y),
                _mm512_shuffle_i64x2::<0xDD>(x, y),
            );
        }
        let s3 = [0, 1].map(|e| {
            let (u, w) = (s2[2 * e], s2[2 * e + 1]);
            // Per chunk: [u0+u2, w0+w2, u1+u3, w1+w3].
            _mm512_add_epi32(_mm512_unpacklo_epi32(u, w), _mm512_unpackhi_epi32(u, w))
        });
        _mm512_add_epi32(
            _mm512_unpacklo_epi64(s3[0], s3[1]),
            _mm512_unpackhi_epi64(s3[0], s3[1]),
        )
    }
}

/// Q4_K for `W` weight rows × `R` activation rows (`W·R ≤ 16`) in the arithmetic of llama.cpp's
/// repacked Q4_K kernels (`reference::q4_k_dot`): for each pair `j` of sub-blocks the exact
/// sums of all outputs are gathered into one register ([`reduce16_epi32`]; lane `4r + i` is
/// output `(i, r)`), then one FMA per pair into 16 f32 accumulators, `acc = fma(Σ_j, d·dy,
/// acc)` and `accm = fma(Σm_j, dmin·dy, accm)`; the result is `acc − accm`. Every lane goes
/// through the same operations whatever `W` and `R` are.
#[inline(always)]
pub(super) unsafe fn tile_q4_k<const W: usize, const R: usize>(
    w: [&[u8]; W],
    a: [&[u8]; R],
) -> [[f32; R]; W] {
    use super::quant::{f32_at, scales_mins_k4};
    let nb = w[0].len() / 144;
    // Lane 4r + i takes: r (dy), i32 lane 4i + j of the weights' mins, 4r + j of the
    // activations' pair sums.
    let lane_r: [i32; 16] = std::array::from_fn(|l| (l / 4) as i32);
    let idx_m: [[i32; 16]; 4] =
        std::array::from_fn(|j| std::array::from_fn(|l| (4 * (l % 4) + j) as i32));
    let idx_b: [[i32; 16]; 4] =
        std::array::from_fn(|j| std::array::from_fn(|l| (4 * (l / 4) + j) as i32));
    // SAFETY: super-block `s < nb` of every `w[i]` (144 bytes) and of every `a[r]` (292 bytes)
    // is in bounds (the caller's contract: whole rows with the same number of super-blocks);
    // the index arrays hold 16 i32 each; AVX-512 F/BW/VL/VNNI, AVX2, FMA, F16C are enabled in
    // the calling kernel.
    unsafe {
        let ld = |v: &[i32; 16]| _mm512_loadu_si512(v.as_ptr() as *const __m512i);
        let (lane_r, idx_m, idx_b) = (ld(&lane_r), idx_m.map(|v| ld(&v)), idx_b.map(|v| ld(&v)));
        let zero = _mm512_setzero_si512();
        let m4 = _mm256_set1_epi8(0x0F);
        let mut acc = _mm512_setzero_ps();
        let mut accm = _mm512_setzero_ps();
        for s in 0..nb {
            let mut sc = [zero; W];
            let mut mins = [0i32; 16];
            let mut dxs = [0.0f32; 4];
            let mut dms = [0.0f32; 4];
            for i in 0..W {
                let wp = w[i].as_ptr().add(s * 144);
                let (c, m) = scales_mins_k4(wp.add(4));
                sc[i] = _mm512_broadcast_i32x4(c);
                _mm_storeu_si128(mins.as_mut_ptr().add(4 * i) as *mut __m128i, m);
                dxs[i] = f16_at(wp);
                dms[i] = f16_at(wp.add(2));
            }
            let mut pairs = [0i32; 16];
            let mut dys = [0.0f32; 4];
            for r in 0..R {
                let yp = a[r].as_ptr().add(s * 292);
                dys[r] = f32_at(yp);
                let bs = load256(yp.add(260));
                let p = _mm_hadd_epi16(_mm256_castsi256_si128(bs), _mm256_extracti128_si256(bs, 1));
                _mm_storeu_si128(pairs.as_mut_ptr().add(4 * r) as *mut __m128i, p);
            }
            let dy =
                _mm512_permutexvar_ps(lane_r, _mm512_castps128_ps512(_mm_loadu_ps(dys.as_ptr())));
            let dd = _mm512_mul_ps(_mm512_broadcast_f32x4(_mm_loadu_ps(dxs.as_ptr())), dy);
            let dm = _mm512_mul_ps(_mm512_broadcast_f32x4(_mm_loadu_ps(dms.as_ptr())), dy);
            let (mz, bz) = (ld(&mins), ld(&pairs));
            for j in 0..4 {
                let idx = join(
                    _mm256_set1_epi16(2 * j as i16),
                    _mm256_set1_epi16(2 * j as i16 + 1),
                );
                let mut xs = [zero; W];
                let mut svs = [zero; W];
                for i in 0..W {
                    let q = load256(w[i].as_ptr().add(s * 144 + 16 + 32 * j));
                    let lo = _mm256_and_si256(q, m4);
                    let hi = _mm256_and_si256(_mm256_srli_epi16(q, 4), m4);
                    xs[i] = join(lo, hi);
                    svs[i] = _mm512_permutexvar_epi16(idx, sc[i]);
                }
                let mut t = [zero; 16];
                for r in 0..R {
                    let yp = a[r].as_ptr().add(s * 292 + 4 + 64 * j);
                    let y = _mm512_loadu_si512(yp as *const __m512i);
                    for i in 0..W {
                        let p = _mm512_maddubs_epi16(xs[i], y);
                        t[4 * i + r] = _mm512_dpwssd_epi32(zero, p, svs[i]);
                    }
                }
                let sums = reduce16_epi32(t);
                let sm = _mm512_madd_epi16(
                    _mm512_permutexvar_epi32(idx_m[j], mz),
                    _mm512_permutexvar_epi32(idx_b[j], bz),
                );
                acc = _mm512_fmadd_ps(_mm512_cvtepi32_ps(sums), dd, acc);
                accm = _mm512_fmadd_ps(_mm512_cvtepi32_ps(sm), dm, accm);
            }
        }
        let mut res = [0.0f32; 16];
        _mm512_storeu_ps(res.as_mut_ptr(), _mm512_sub_ps(acc, accm));
        std::array::from_fn(|i| std::array::from_fn(|r| res[4 * r + i]))
    }
}

/// Q6_K for `W` weight rows × `R` activation rows: each 512-bit register holds 64 weights (two
/// 32-element quarters, scale groups `4t .. 4t + 4` of the super-block) matching 64
/// contiguous activation bytes. Values are 0..63; the offset of 32 is subtracted from each pair
/// of products before the scales, so that after folding the two quarters every i32 lane holds
/// the partial sum of ggml's AVX2 kernel (the scalar reference). Every output element goes
/// through the same operations whatever `W` and `R` are.
#[inline(always)]
pub(super) unsafe fn tile_q6_k<const W: usize, const R: usize>(
    w: [&[u8]; W],
    a: [&[u8]; R],
) -> [[f32; R]; W] {
    use super::quant::f32_at;
    let nb = w[0].len() / 210;
    // SAFETY: super-block `s < nb` of every `w[i]` (210 bytes) and of every `a[r]` (292
    // bytes) is in bounds (the caller's contract); AVX-512 F/BW/VL/VNNI, AVX2, FMA, F16C are
    // enabled in the calling kernel.
    unsafe {
        let mut acc = [[_mm256_setzero_ps(); R]; W];
        let m4 = _mm512_set1_epi8(0x0F);
        let m3 = _mm512_set1_epi8(3);
        let m32 = _mm512_set1_epi8(32);
        for s in 0..nb {
            let mut sc16 = [_mm256_setzero_si256(); W];
            for i in 0..W {
                let wp = w[i].as_ptr().add(s * 210);
                sc16[i] = _mm256_cvtepi8_epi16(_mm_loadu_si128(wp.add(192) as *const __m128i));
            }
            let mut sumi = [[_mm512_setzero_si512(); R]; W];
            for t in 0..4 {
                let (half, upper) = (t / 2, t % 2 == 1);
                let g = 4 * t as i16;
                let idx = join(
                    _mm256_set_m128i(_mm_set1_epi16(g + 1), _mm_set1_epi16(g)),
                    _mm256_set_m128i(_mm_set1_epi16(g + 3), _mm_set1_epi16(g + 2)),
                );
                let mut xs = [_mm512_setzero_si512(); W];
                let mut svs = [_mm512_setzero_si512(); W];
                for i in 0..W {
                    let wp = w[i].as_ptr().add(s * 210);
                    let ql = _mm512_loadu_si512(wp.add(64 * half) as *const __m512i);
                    let qh = load256(wp.add(128 + 32 * half));
                    let qhz = join(qh, _mm256_srli_epi16(qh, 2));
                    let (lo, hi) = if upper {
                        (_mm512_srli_epi16(ql, 4), _mm512_srli_epi16(qhz, 4))
                    } else {
                        (ql, qhz)
                    };
                    xs[i] = _mm512_or_si512(
                        _mm512_and_si512(lo, m4),
                        _mm512_slli_epi16(_mm512_and_si512(hi, m3), 4),
                    );
                    svs[i] = _mm512_permutexvar_epi16(idx, _mm512_castsi256_si512(sc16[i]));
                }
                for r in 0..R {
                    let yp = a[r].as_ptr().add(s * 292 + 4 + 64 * t);
                    let y = _mm512_loadu_si512(yp as *const __m512i);
                    let y32 = _mm512_maddubs_epi16(m32, y);
                    for i in 0..W {
                        let p = _mm512_sub_epi16(_mm512_maddubs_epi16(xs[i], y), y32);
                        sumi[i][r] = _mm512_dpwssd_epi32(sumi[i][r], p, svs[i]);
                    }
                }
            }
            for r in 0..R {
                let dy = f32_at(a[r].as_ptr().add(s * 292));
                for i in 0..W {
                    let dx = f16_at(w[i].as_ptr().add(s * 210 + 208));
                    let s8 = _mm256_add_epi32(
                        _mm512_castsi512_si256(sumi[i][r]),
                        _mm512_extracti64x4_epi64::<1>(sumi[i][r]),
                    );
                    acc[i][r] =
                        _mm256_fmadd_ps(_mm256_set1_ps(dy * dx), _mm256_cvtepi32_ps(s8), acc[i][r]);
                }
            }
        }
        let mut out = [[0.0f32; R]; W];
        for i in 0..W {
            for r in 0..R {
                out[i][r] = hsum_ps(acc[i][r]);
            }
        }
        out
    }
}
