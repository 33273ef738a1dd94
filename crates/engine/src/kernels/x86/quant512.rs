//! AVX-512 (VNNI) kernels for tiles of weight rows × activation rows: the 32-element block
//! types with 256-bit `vpdpbusd`, the K-quants with 512-bit registers. Every output element
//! equals the scalar reference bit for bit (the same exact integer sums per ggml lane, then
//! the same f32 operations in the same order), except Q5_K, where only the f32 summation
//! order differs.
#![allow(unsafe_code)]

use super::quant::{Block32, load256};
use super::{f16_at, hsum_ps};
use std::arch::x86_64::*;

/// `[lo; hi]` of two 256-bit halves.
#[inline(always)]
unsafe fn join(lo: __m256i, hi: __m256i) -> __m512i {
    // SAFETY: AVX-512F is enabled in the calling kernel.
    unsafe { _mm512_inserti64x4(_mm512_castsi256_si512(lo), hi, 1) }
}

/// The f16 at the start of a block of at least 8 bytes, as f32 in lane 0: `vcvtph2ps` from
/// memory, in inline assembly because LLVM rewrites the intrinsic form into `vpinsrw` into an
/// arbitrary register (a false dependency on an accumulator, see `f16_at`).
#[inline(always)]
unsafe fn block_f16(p: *const u8) -> __m128 {
    let v: __m128;
    // SAFETY: the caller guarantees 8 readable bytes at `p` (all this instruction reads) and
    // F16C support; it writes only `v`.
    unsafe {
        std::arch::asm!(
            "vcvtph2ps {v}, qword ptr [{p}]",
            p = in(reg) p,
            v = out(xmm_reg) v,
            options(pure, readonly, nostack, preserves_flags),
        );
    }
    v
}

/// Decode with several weight rows per tile reads interleaved row streams, which the hardware
/// prefetcher does not follow. When the rows are adjacent (as in a matrix), the next tile is
/// the bytes right after the last row: while block `ib` of this tile is computed, fetch the
/// same share (`len` bytes from `ib·len`) of the next tile as one linear stream. A prefetch
/// never faults, even past the end of the matrix. Only for one activation row (decode), where
/// memory bandwidth is the limit.
#[inline(always)]
unsafe fn prefetch_next<const W: usize, const R: usize>(w: &[&[u8]; W], ib: usize, len: usize) {
    if W == 1 || R != 1 {
        return;
    }
    if let Some(last) = w.last() {
        let start = last.as_ptr().wrapping_add(last.len() + ib * len) as usize;
        let mut line = start & !63;
        while line < start + len {
            // SAFETY: a prefetch is a hint that never faults, whatever the address.
            unsafe { _mm_prefetch::<_MM_HINT_T0>(line as *const i8) };
            line += 64;
        }
    }
}

/// Dot products of `W` weight rows with `R` activation rows for a 32-element block type
/// (`out[i][r]` = weight row `i` · activation row `r`) in ggml's arithmetic
/// (`reference::lanes32`): per block, 8 lanes of exact 4-byte integer dot products
/// (`vpdpbusd`), `acc = fma(dx·dy, lanes, acc)`, then the 8-lane horizontal sum. Each decoded
/// weight block is reused for the `R` activation rows and each loaded activation block for the
/// `W` weight rows, and every output element goes through the same operations whatever `W` and
/// `R` are.
///
/// Signed types: the weights are offset by 128 to unsigned bytes for `vpdpbusd`, and the
/// integer sum starts at `-128·Σy` so that it is exactly `Σ x·y` in every lane.
#[inline(always)]
pub(super) unsafe fn tile32<B: Block32, const W: usize, const R: usize>(
    w: [&[u8]; W],
    a: [&[u8]; R],
) -> [[f32; R]; W] {
    let nb = w[0].len() / B::WB;
    let a_qs = if B::AB == 36 { 4 } else { 2 };
    // SAFETY: blocks `< nb` of every `w[i]` and every `a[r]` are in bounds (the caller's
    // contract: whole rows with the same number of blocks; every block is at least 18 bytes,
    // so `block_f16` may read 8); AVX-512 F/BW/VL/VNNI, AVX2, FMA and F16C are enabled in the
    // calling kernel.
    unsafe {
        let zero = _mm256_setzero_si256();
        let off = _mm256_set1_epi8(0x80u8 as i8);
        let mut acc = [[_mm256_setzero_ps(); R]; W];
        let mut summs = [[0.0f32; R]; W];
        for ib in 0..nb {
            prefetch_next::<W, R>(&w, ib, W * B::WB);
            let mut xs = [zero; W];
            let mut dws = [_mm_setzero_ps(); W];
            for i in 0..W {
                let wp = w[i].as_ptr().add(ib * B::WB);
                let x = B::decode(wp);
                xs[i] = if B::SIGNED {
                    _mm256_xor_si256(x, off)
                } else {
                    x
                };
                dws[i] = block_f16(wp);
            }
            // The W·R scale products, from memory: each FMA below takes its own as a
            // broadcast load (a load port) rather than a register broadcast (a shuffle).
            let mut ds = [[0.0f32; 4]; R];
            for r in 0..R {
                let dy = block_f16(a[r].as_ptr().add(ib * B::AB));
                for i in 0..W {
                    _mm_store_ss(&mut ds[r][i], _mm_mul_ss(dws[i], dy));
                }
            }
            let ds = std::hint::black_box(&ds);
            for r in 0..R {
                let yp = a[r].as_ptr().add(ib * B::AB);
                let y = load256(yp.add(a_qs));
                let start = if B::SIGNED {
                    _mm256_sub_epi32(zero, _mm256_dpbusd_epi32(zero, off, y))
                } else {
                    zero
                };
                for i in 0..W {
                    let p = _mm256_dpbusd_epi32(start, xs[i], y);
                    let d = _mm256_broadcast_ss(&ds[r][i]);
                    acc[i][r] = _mm256_fmadd_ps(d, _mm256_cvtepi32_ps(p), acc[i][r]);
                    if !B::SIGNED {
                        let wp = w[i].as_ptr().add(ib * B::WB);
                        summs[i][r] += f16_at(wp.add(2)) * f16_at(yp.add(2));
                    }
                }
            }
        }
        let mut out = [[0.0f32; R]; W];
        for i in 0..W {
            for r in 0..R {
                out[i][r] = hsum_ps(acc[i][r]) + summs[i][r];
            }
        }
        out
    }
}

/// Q5_K (Q4_K is [`tile_q4_k`]) for `W` weight rows × `R` activation rows, with each pair of
/// 32-element sub-blocks in one 512-bit register (the low nibbles of 32 bytes, then their high
/// nibbles, matching 64 contiguous activation bytes). Integer sums are reduced to 8 lanes
/// before the same float steps as the AVX2 form. Every output element goes through the same
/// operations whatever `W` and `R` are.
#[inline(always)]
pub(super) unsafe fn tile_q5_k<const W: usize, const R: usize>(
    w: [&[u8]; W],
    a: [&[u8]; R],
) -> [[f32; R]; W] {
    use super::quant::{f32_at, hsum_epi32_128, scales_mins_k4};
    // Super-block: d, dmin (f16), 12 bytes of scales and mins, 32 bytes of high bits, 128 of
    // nibbles.
    let (wb, qs_at) = (176, 48);
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
            prefetch_next::<W, R>(&w, s, W * wb);
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
                    let hbits = load256(wp.add(16));
                    let s0 = _mm_cvtsi32_si128(2 * j as i32);
                    let s1 = _mm_cvtsi32_si128(2 * j as i32 + 1);
                    let b0 = _mm256_and_si256(_mm256_srl_epi16(hbits, s0), one);
                    let b1 = _mm256_and_si256(_mm256_srl_epi16(hbits, s1), one);
                    let lo = _mm256_or_si256(_mm256_and_si256(q, m4), _mm256_slli_epi16(b0, 4));
                    let hi = _mm256_or_si256(
                        _mm256_and_si256(_mm256_srli_epi16(q, 4), m4),
                        _mm256_slli_epi16(b1, 4),
                    );
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

/// Lane `4j + o` of the result is the sum of the four i32 lanes of chunk `j` of `v[o]`.
#[inline(always)]
unsafe fn hsum_chunks4(v: [__m512i; 4]) -> __m512i {
    // SAFETY: AVX-512F is enabled in the calling kernel.
    unsafe {
        // Per chunk: [a0+a2, b0+b2, a1+a3, b1+b3], likewise for (c, d).
        let ab = _mm512_add_epi32(
            _mm512_unpacklo_epi32(v[0], v[1]),
            _mm512_unpackhi_epi32(v[0], v[1]),
        );
        let cd = _mm512_add_epi32(
            _mm512_unpacklo_epi32(v[2], v[3]),
            _mm512_unpackhi_epi32(v[2], v[3]),
        );
        _mm512_add_epi32(_mm512_unpacklo_epi64(ab, cd), _mm512_unpackhi_epi64(ab, cd))
    }
}

/// Lane `4j + o` of the result is lane `j` of `v[o]`.
#[inline(always)]
unsafe fn transpose4_epi32(v: [__m128i; 4]) -> __m512i {
    // SAFETY: AVX-512F is enabled in the calling kernel.
    unsafe {
        let t0 = _mm_unpacklo_epi32(v[0], v[1]);
        let t1 = _mm_unpacklo_epi32(v[2], v[3]);
        let t2 = _mm_unpackhi_epi32(v[0], v[1]);
        let t3 = _mm_unpackhi_epi32(v[2], v[3]);
        let lo = _mm256_set_m128i(_mm_unpackhi_epi64(t0, t1), _mm_unpacklo_epi64(t0, t1));
        let hi = _mm256_set_m128i(_mm_unpackhi_epi64(t2, t3), _mm_unpacklo_epi64(t2, t3));
        join(lo, hi)
    }
}

/// Lane `4j + o` of the result is lane `j` of `v` (for every `o`).
#[inline(always)]
unsafe fn spread4_epi32(v: __m128i) -> __m512i {
    // SAFETY: AVX-512F is enabled in the calling kernel.
    unsafe {
        let idx = _mm512_set_epi32(3, 3, 3, 3, 2, 2, 2, 2, 1, 1, 1, 1, 0, 0, 0, 0);
        _mm512_permutexvar_epi32(idx, _mm512_castsi128_si512(v))
    }
}

/// `acc = fma(chunk j of f, d, acc)` for j = 0, 1, 2, 3 in order (one FMA per pair of
/// sub-blocks, for the four outputs in the lanes of `acc`).
#[inline(always)]
unsafe fn fma_chunks(f: __m512, d: __m128, acc: __m128) -> __m128 {
    // SAFETY: AVX-512F and FMA are enabled in the calling kernel.
    unsafe {
        let acc = _mm_fmadd_ps(_mm512_castps512_ps128(f), d, acc);
        let acc = _mm_fmadd_ps(_mm512_extractf32x4_ps::<1>(f), d, acc);
        let acc = _mm_fmadd_ps(_mm512_extractf32x4_ps::<2>(f), d, acc);
        _mm_fmadd_ps(_mm512_extractf32x4_ps::<3>(f), d, acc)
    }
}

/// One Q4_K super-block of weights decoded for the pair-sum kernels: the nibbles gathered in
/// `AType::Q8_KT` register order, the two scale registers, the 8 mins, `d` and `dmin`.
#[derive(Clone, Copy)]
struct Q4kBlock {
    x: [__m512i; 4],
    sv: __m512i,
    mins: __m128i,
    d: f32,
    dmin: f32,
}

/// Decodes the 144-byte Q4_K super-block at `wp`.
#[inline(always)]
unsafe fn q4_k_block(wp: *const u8) -> Q4kBlock {
    // SAFETY: the caller guarantees 144 readable bytes at `wp` and AVX-512 F/BW/VL and F16C.
    unsafe {
        let sm = q4_k_scales1(wp);
        let row = _mm512_broadcast_i32x4(sm);
        Q4kBlock {
            x: q4_k_nibbles(wp),
            sv: _mm512_shuffle_epi8(row, bytes64(&Q4K_SV)),
            mins: _mm_cvtepu8_epi16(_mm_srli_si128::<8>(sm)),
            d: f16_at(wp),
            dmin: f16_at(wp.add(2)),
        }
    }
}

/// One row's 8 scales then 8 mins (u8) from the first 16 bytes of its Q4_K super-block:
/// [`q4_k_sm`] on one 128-bit chunk.
#[inline(always)]
unsafe fn q4_k_scales1(wp: *const u8) -> __m128i {
    // SAFETY: the caller guarantees 16 readable bytes at `wp` and AVX-512F.
    unsafe {
        let v = _mm512_zextsi128_si512(_mm_loadu_si128(wp as *const __m128i));
        _mm512_castsi512_si128(q4_k_sm(v))
    }
}

/// Per 128-bit chunk holding a Q4_K super-block's first 16 bytes (`d`, `dmin`, then the three
/// scale words `[U0, U1, U2]` in i32 lanes 1–3): its 8 scales then 8 mins (u8), by ggml's
/// `utmp` steps on the lanes: `[U0 & M1, (U2 & M2) | ((U0 >> 6) & M3) << 4, U1 & M1,
/// ((U2 >> 4) & M2) | ((U1 >> 6) & M3) << 4]`. Each chunk's result depends on that chunk alone.
#[inline(always)]
unsafe fn q4_k_sm(v: __m512i) -> __m512i {
    // SAFETY: AVX-512F is enabled in the calling kernel.
    unsafe {
        // Lanes [U0, U2, U1, U2] (low bits) and [U0, U0, U1, U1] (high bits) of each chunk.
        let lo = _mm512_shuffle_epi32::<0xED>(v);
        let hi = _mm512_shuffle_epi32::<0xA5>(v);
        let lo = _mm512_srlv_epi32(lo, _mm512_set4_epi32(4, 0, 0, 0));
        let lo = _mm512_and_si512(
            lo,
            _mm512_set4_epi32(0x0f0f0f0f, 0x3f3f3f3f, 0x0f0f0f0f, 0x3f3f3f3f),
        );
        let hi = _mm512_and_si512(
            _mm512_srli_epi32::<2>(hi),
            _mm512_set4_epi32(0x30303030, 0, 0x30303030, 0),
        );
        _mm512_or_si512(lo, hi)
    }
}

/// The nibbles of the Q4_K super-block at `wp` in `AType::Q8_KT` register order (as
/// [`Q4kBlock::x`]).
#[inline(always)]
unsafe fn q4_k_nibbles(wp: *const u8) -> [__m512i; 4] {
    // SAFETY: the caller guarantees 144 readable bytes at `wp` and AVX-512 F/BW.
    unsafe {
        let m4 = _mm512_set1_epi8(0x0F);
        let qa = _mm512_loadu_si512(wp.add(16) as *const __m512i);
        let qb = _mm512_loadu_si512(wp.add(80) as *const __m512i);
        let p0 = _mm512_shuffle_i64x2::<0x88>(qa, qb);
        let p1 = _mm512_shuffle_i64x2::<0xDD>(qa, qb);
        [
            _mm512_and_si512(p0, m4),
            _mm512_and_si512(p1, m4),
            _mm512_and_si512(_mm512_srli_epi16(p0, 4), m4),
            _mm512_and_si512(_mm512_srli_epi16(p1, 4), m4),
        ]
    }
}

/// The scales, mins and super-block scales of four Q4_K super-blocks (one per weight row),
/// decoded together.
#[derive(Clone, Copy)]
struct Q4kScales4 {
    /// 128-bit chunk `i`: row `i`'s 8 scales, then its 8 mins (u8).
    sm: __m512i,
    /// i32 lane `4j + i`: row `i`'s mins of sub-blocks `2j`, `2j + 1` (two i16).
    mins_t: __m512i,
    /// `d` of rows 0..4.
    d: __m128,
    /// `dmin` of rows 0..4.
    dmin: __m128,
}

/// Decodes the first 16 bytes (`d`, `dmin`, 12 bytes of 6-bit scales and mins) of four Q4_K
/// super-blocks at once, one per 128-bit chunk ([`q4_k_sm`] for the scales and mins).
#[inline(always)]
unsafe fn q4_k_scales4(wp: [*const u8; 4]) -> Q4kScales4 {
    // SAFETY: the caller guarantees 16 readable bytes at every `wp[i]`, AVX-512 F/BW/VL and
    // F16C.
    unsafe {
        let ld = |p: *const u8| _mm_loadu_si128(p as *const __m128i);
        let v = _mm512_inserti32x4::<3>(
            _mm512_inserti32x4::<2>(
                _mm512_inserti32x4::<1>(_mm512_castsi128_si512(ld(wp[0])), ld(wp[1])),
                ld(wp[2]),
            ),
            ld(wp[3]),
        );
        let sm = q4_k_sm(v);
        // Mins as i16 (chunk i, i32 lane j: mins 2j, 2j + 1 of row i), then lane 4i + j → 4j + i.
        let mins = _mm512_shuffle_epi8(sm, bytes64(&Q4K_MINS16));
        let mins_t = _mm512_permutexvar_epi32(
            _mm512_set_epi32(15, 11, 7, 3, 14, 10, 6, 2, 13, 9, 5, 1, 12, 8, 4, 0),
            mins,
        );
        // d and dmin of the four rows: the first i32 lane of each chunk, as 8 f16.
        let dd = _mm512_castsi512_si128(_mm512_permutexvar_epi32(
            _mm512_set_epi32(0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 12, 8, 4, 0),
            v,
        ));
        let f = _mm256_permutevar8x32_ps(
            _mm256_cvtph_ps(dd),
            _mm256_set_epi32(7, 5, 3, 1, 6, 4, 2, 0),
        );
        Q4kScales4 {
            sm,
            mins_t,
            d: _mm256_castps256_ps128(f),
            dmin: _mm256_extractf128_ps::<1>(f),
        }
    }
}

/// 64 bytes as a register.
#[inline(always)]
unsafe fn bytes64(v: &[u8; 64]) -> __m512i {
    // SAFETY: 64 readable bytes; AVX-512F is enabled in the calling kernel.
    unsafe { _mm512_loadu_si512(v.as_ptr() as *const __m512i) }
}

/// `vpshufb` indices: in every chunk, bytes 8..16 (the mins) zero-extended to 8 i16.
const Q4K_MINS16: [u8; 64] = {
    let mut v = [0x80u8; 64];
    let mut i = 0;
    while i < 64 {
        if i % 2 == 0 {
            v[i] = 8 + (i % 16) as u8 / 2;
        }
        i += 1;
    }
    v
};

/// `vpshufb` indices: in chunk `j`, i16 lanes 0..4 ← byte `2j` and lanes 4..8 ← byte `2j + 1`
/// (the scales of sub-blocks `2j` and `2j + 1`), zero-extended.
const Q4K_SV: [u8; 64] = {
    let mut v = [0x80u8; 64];
    let mut i = 0;
    while i < 64 {
        if i % 2 == 0 {
            v[i] = 2 * (i / 16) as u8 + (i % 16 >= 8) as u8;
        }
        i += 1;
    }
    v
};

/// Row `I`'s scale register (as [`Q4kBlock::sv`]) from [`Q4kScales4::sm`].
#[inline(always)]
unsafe fn q4_k_sv<const I: i32>(sm: __m512i) -> __m512i {
    // SAFETY: AVX-512 F/BW are enabled in the calling kernel.
    unsafe { _mm512_shuffle_epi8(_mm512_shuffle_i32x4::<I>(sm, sm), bytes64(&Q4K_SV)) }
}

/// The four 64-byte quant registers of the `Q8_KT` super-block at `yp` (292 bytes).
#[inline(always)]
unsafe fn q8_kt_quants(yp: *const u8) -> [__m512i; 4] {
    // SAFETY: the caller guarantees 292 readable bytes at `yp` and AVX-512F.
    unsafe {
        [
            _mm512_loadu_si512(yp.add(4) as *const __m512i),
            _mm512_loadu_si512(yp.add(68) as *const __m512i),
            _mm512_loadu_si512(yp.add(132) as *const __m512i),
            _mm512_loadu_si512(yp.add(196) as *const __m512i),
        ]
    }
}

/// Scaled integer sums of one weight super-block against one activation super-block, with
/// pair `j` of sub-blocks in 128-bit chunk `j`.
#[inline(always)]
unsafe fn q4_k_pair_sums(x: &[__m512i; 4], sv: __m512i, z: &[__m512i; 4]) -> __m512i {
    // SAFETY: AVX-512 BW and VNNI are enabled in the calling kernel.
    unsafe {
        let zero = _mm512_setzero_si512();
        // i32 lanes of chunk j: 4-byte sums of sub-block 2j (`lo`) and 2j + 1 (`hi`), each at
        // most 8·15·128 in magnitude, so the pack to i16 is exact.
        let lo = _mm512_dpbusd_epi32(_mm512_dpbusd_epi32(zero, x[0], z[0]), x[1], z[1]);
        let hi = _mm512_dpbusd_epi32(_mm512_dpbusd_epi32(zero, x[2], z[2]), x[3], z[3]);
        _mm512_dpwssd_epi32(zero, _mm512_packs_epi32(lo, hi), sv)
    }
}

/// Q4_K for one weight row and one activation row (decode): [`tile_q4_k`]'s arithmetic with
/// the two FMA chains (`acc`, `accm`) in lanes 0 and 1 of one register.
#[inline(always)]
unsafe fn q4_k_1x1(w: &[u8], a: &[u8], nb: usize) -> f32 {
    use super::quant::{f32_at, q4_k_chain, q4_k_result};
    // SAFETY: super-block `s < nb` of `w` (144 bytes) and of `a` (292 bytes) is in bounds (the
    // caller's contract); AVX-512 F/BW/VL/VNNI, AVX2, FMA, F16C are enabled in the calling
    // kernel.
    unsafe {
        let pick = _mm512_set_epi32(0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 12, 8, 4, 0);
        let mut acc = _mm_setzero_ps();
        for s in 0..nb {
            let wp = w.as_ptr().add(s * 144);
            let yp = a.as_ptr().add(s * 292);
            let b = q4_k_block(wp);
            let t = q4_k_pair_sums(&b.x, b.sv, &q8_kt_quants(yp));
            // Every lane of chunk j ← the pair's total; lanes 0, 4, 8, 12 → 0..4.
            let t = _mm512_add_epi32(t, _mm512_shuffle_epi32::<0x4E>(t));
            let t = _mm512_add_epi32(t, _mm512_shuffle_epi32::<0xB1>(t));
            let sums = _mm512_castsi512_si128(_mm512_permutexvar_epi32(pick, t));
            let bs = load256(yp.add(260));
            let pairs = _mm_hadd_epi16(_mm256_castsi256_si128(bs), _mm256_extracti128_si256(bs, 1));
            let dy = f32_at(yp);
            let (dd, dm) = (b.d * dy, b.dmin * dy);
            acc = q4_k_chain(sums, _mm_madd_epi16(b.mins, pairs), dd, dm, acc);
        }
        q4_k_result(acc)
    }
}

/// Q4_K for four weight rows and `R` (≤ 4) activation rows: [`tile_q4_k`]'s arithmetic, with
/// the four rows' scales, mins and super-block scales decoded together
/// ([`q4_k_scales4`]); the four rows' pair sums and FMA chains share registers (lane `i` is
/// row `i`, one group per activation row).
#[inline(always)]
unsafe fn q4_k_4xr<const R: usize>(w: [&[u8]; 4], a: [&[u8]; R], nb: usize) -> [[f32; 4]; R] {
    use super::quant::f32_at;
    // SAFETY: super-block `s < nb` of every `w[i]` (144 bytes) and of every `a[r]` (292
    // bytes) is in bounds (the caller's contract); AVX-512 F/BW/VL/VNNI, AVX2, FMA, F16C are
    // enabled in the calling kernel.
    unsafe {
        let zero = _mm512_setzero_si512();
        let mut acc = [_mm_setzero_ps(); R];
        let mut accm = [_mm_setzero_ps(); R];
        for s in 0..nb {
            prefetch_next::<4, R>(&w, s, 4 * 144);
            let wp = [0, 1, 2, 3].map(|i| w[i].as_ptr().add(s * 144));
            let sc = q4_k_scales4(wp);
            let sv = [
                q4_k_sv::<0x00>(sc.sm),
                q4_k_sv::<0x55>(sc.sm),
                q4_k_sv::<0xAA>(sc.sm),
                q4_k_sv::<0xFF>(sc.sm),
            ];
            // One activation row: decode each weight row's nibbles where it is used (fewer
            // live registers); several: once, for all of them.
            let mut xs = [[zero; 4]; 4];
            if R > 1 {
                for i in 0..4 {
                    xs[i] = q4_k_nibbles(wp[i]);
                }
            }
            for r in 0..R {
                let yp = a[r].as_ptr().add(s * 292);
                let z = q8_kt_quants(yp);
                let mut t = [zero; 4];
                for i in 0..4 {
                    let x = if R > 1 { xs[i] } else { q4_k_nibbles(wp[i]) };
                    t[i] = q4_k_pair_sums(&x, sv[i], &z);
                }
                let bs = load256(yp.add(260));
                let pairs =
                    _mm_hadd_epi16(_mm256_castsi256_si128(bs), _mm256_extracti128_si256(bs, 1));
                let f = _mm512_cvtepi32_ps(hsum_chunks4(t));
                let fm = _mm512_cvtepi32_ps(_mm512_madd_epi16(sc.mins_t, spread4_epi32(pairs)));
                let d = _mm_set1_ps(f32_at(yp));
                let dd = _mm_mul_ps(sc.d, d);
                let dm = _mm_mul_ps(sc.dmin, d);
                acc[r] = fma_chunks(f, dd, acc[r]);
                accm[r] = fma_chunks(fm, dm, accm[r]);
            }
        }
        let mut res = [[0.0f32; 4]; R];
        for r in 0..R {
            _mm_storeu_ps(res[r].as_mut_ptr(), _mm_sub_ps(acc[r], accm[r]));
        }
        res
    }
}

/// Q4_K for `W` (1 or 4) weight rows × `R` (≤ 4) activation rows in the arithmetic of
/// llama.cpp's repacked Q4_K kernels (`reference::q4_k_dot`): per super-block and pair `j` of
/// sub-blocks, `acc = fma(Σ_j, d·dy, acc)` and `accm = fma(Σm_j, dmin·dy, accm)`; the result is
/// `acc − accm`.
///
/// To get the exact sum of each pair without a horizontal sum per pair, the activation is in
/// `AType::Q8_KT` order (64-byte register `k` holds bytes `16k..16k+16` of every pair, chunk `j`
/// from pair `j`) and the weight nibbles are gathered the same way, so that one accumulator per
/// output keeps pair `j` in chunk `j`. Four outputs' accumulators are
/// then summed per chunk into one register (lane `4j + o`), and the FMAs run on 4 outputs at
/// once. Every output goes through the same operations whatever `W` and `R` are: four weight
/// rows go to [`q4_k_4xr`], one weight row and one activation row to [`q4_k_1x1`], and one
/// weight row against several activation rows is handled here.
#[inline(always)]
pub(super) unsafe fn tile_q4_k<const W: usize, const R: usize>(
    w: [&[u8]; W],
    a: [&[u8]; R],
) -> [[f32; R]; W] {
    use super::quant::f32_at;
    let nb = w[0].len() / 144;
    if W == 1 && R == 1 {
        let mut out = [[0.0f32; R]; W];
        // SAFETY: forwarded contract (whole rows; AVX-512 F/BW/VL/VNNI, FMA enabled).
        out[0][0] = unsafe { q4_k_1x1(w[0], a[0], nb) };
        return out;
    }
    if W == 4 {
        let mut out = [[0.0f32; R]; W];
        if let Ok(w4) = <[&[u8]; 4]>::try_from(&w[..]) {
            // SAFETY: forwarded contract (whole rows; AVX-512 F/BW/VL/VNNI, FMA enabled).
            let res = unsafe { q4_k_4xr::<R>(w4, a, nb) };
            for (r, row) in res.iter().enumerate() {
                for (i, v) in row.iter().enumerate() {
                    out[i][r] = *v;
                }
            }
        }
        return out;
    }
    // SAFETY: super-block `s < nb` of every `w[i]` (144 bytes) and of every `a[r]` (292 bytes)
    // is in bounds (the caller's contract: whole rows with the same number of super-blocks);
    // AVX-512 F/BW/VL/VNNI, AVX2, FMA, F16C are enabled in the calling kernel.
    unsafe {
        // One weight row (W = 1) against R activation rows: outputs (0, r) in lane r.
        let zero = _mm512_setzero_si512();
        let mut acc = _mm_setzero_ps();
        let mut accm = _mm_setzero_ps();
        for s in 0..nb {
            let b = q4_k_block(w[0].as_ptr().add(s * 144));
            let mut pairs = [_mm_setzero_si128(); 4];
            let mut dy = [0.0f32; 4];
            let mut sums = [zero; 4];
            for r in 0..R {
                let yp = a[r].as_ptr().add(s * 292);
                dy[r] = f32_at(yp);
                let bs = load256(yp.add(260));
                pairs[r] =
                    _mm_hadd_epi16(_mm256_castsi256_si128(bs), _mm256_extracti128_si256(bs, 1));
                sums[r] = q4_k_pair_sums(&b.x, b.sv, &q8_kt_quants(yp));
            }
            let f = _mm512_cvtepi32_ps(hsum_chunks4(sums));
            let fm = _mm512_cvtepi32_ps(_mm512_madd_epi16(
                spread4_epi32(b.mins),
                transpose4_epi32(pairs),
            ));
            let d = _mm_loadu_ps(dy.as_ptr());
            let dd = _mm_mul_ps(_mm_set1_ps(b.d), d);
            let dm = _mm_mul_ps(_mm_set1_ps(b.dmin), d);
            acc = fma_chunks(f, dd, acc);
            accm = fma_chunks(fm, dm, accm);
        }
        let mut res = [0.0f32; 4];
        _mm_storeu_ps(res.as_mut_ptr(), _mm_sub_ps(acc, accm));
        let mut out = [[0.0f32; R]; W];
        for (r, v) in res.iter().take(R).enumerate() {
            out[0][r] = *v;
        }
        out
    }
}

/// The 6-bit values (0..63) of half `h` (elements `128h .. 128h + 128`) of the Q6_K
/// super-block at `wp`, as two registers of 64 bytes: elements `128h + 64k ..` in register `k`.
/// ggml's layout: element `l + 32q` of the half has low bits from `ql` byte `l + 32·(q % 2)`
/// (low nibble for q < 2, high nibble otherwise) and high bits `(qh[l] >> 2q) & 3`. One
/// broadcast of the 32 `qh` bytes shifted by 0 (first 32 bytes) and 2 (last 32), masked to bits
/// 0–1 and 4–5, serves both registers; a bitwise select merges nibble and high bits.
#[inline(always)]
unsafe fn q6_k_half(wp: *const u8, h: usize) -> [__m512i; 2] {
    // SAFETY: the caller guarantees the 210-byte super-block at `wp` and AVX-512 F/BW.
    unsafe {
        let m4 = _mm512_set1_epi8(0x0F);
        let ql = _mm512_loadu_si512(wp.add(64 * h) as *const __m512i);
        let qh = _mm512_broadcast_i64x4(load256(wp.add(128 + 32 * h)));
        let shifts = _mm512_inserti64x4::<1>(_mm512_setzero_si512(), _mm256_set1_epi16(2));
        let qh = _mm512_and_si512(_mm512_srlv_epi16(qh, shifts), _mm512_set1_epi8(0x33));
        // 0xE4: bits from the first operand where the mask (third) is set, else the second.
        [
            _mm512_ternarylogic_epi32::<0xE4>(ql, _mm512_slli_epi16::<4>(qh), m4),
            _mm512_ternarylogic_epi32::<0xE4>(_mm512_srli_epi16::<4>(ql), qh, m4),
        ]
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
        let m32 = _mm512_set1_epi8(32);
        for s in 0..nb {
            prefetch_next::<W, R>(&w, s, W * 210);
            let mut sc16 = [_mm256_setzero_si256(); W];
            for i in 0..W {
                let wp = w[i].as_ptr().add(s * 210);
                sc16[i] = _mm256_cvtepi8_epi16(_mm_loadu_si128(wp.add(192) as *const __m128i));
            }
            let mut sumi = [[_mm512_setzero_si512(); R]; W];
            let mut halves = [[_mm512_setzero_si512(); 2]; W];
            for t in 0..4 {
                let g = 4 * t as i16;
                let idx = join(
                    _mm256_set_m128i(_mm_set1_epi16(g + 1), _mm_set1_epi16(g)),
                    _mm256_set_m128i(_mm_set1_epi16(g + 3), _mm_set1_epi16(g + 2)),
                );
                let mut xs = [_mm512_setzero_si512(); W];
                let mut svs = [_mm512_setzero_si512(); W];
                for i in 0..W {
                    let wp = w[i].as_ptr().add(s * 210);
                    if t % 2 == 0 {
                        halves[i] = q6_k_half(wp, t / 2);
                    }
                    xs[i] = halves[i][t % 2];
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
