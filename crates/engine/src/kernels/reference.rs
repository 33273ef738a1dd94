//! Scalar reference kernels: the dot product of one weight row with one activation row for every
//! weight type, and dequantisation of a weight row. Written for clarity; the SIMD kernels must
//! agree with these (see the tests). Integer parts are exact, so SIMD results differ from these
//! only by the order of f32 additions.
//!
//! Callers pass whole rows: `w.len() == wt.row_bytes(k)` and `a.len() == act.row_bytes(k)`.

use super::types::{QK_K, WType, bf16_bits_to_f32, f16_at, f32_at, q8_kt_pos};
use half::f16;

/// `Σ w[i]·a[i]` for one weight row and one activation row in `wt.act_type()` format.
pub fn dot(wt: WType, w: &[u8], a: &[u8]) -> f32 {
    match wt {
        WType::F32 => w
            .chunks_exact(4)
            .zip(a.chunks_exact(4))
            .fold(0.0, |s, (x, y)| s + f32_at(x, 0) * f32_at(y, 0)),
        WType::F16 => w
            .chunks_exact(2)
            .zip(a.chunks_exact(2))
            .fold(0.0, |s, (x, y)| s + f16_at(x, 0) * f16_at(y, 0)),
        WType::BF16 => w
            .chunks_exact(2)
            .zip(a.chunks_exact(2))
            .fold(0.0, |s, (x, y)| s + bf16(x) * bf16(y)),
        WType::Q8_0 => lanes32(w, 34, a, 34, false, |x, b| i8_at(x, 2 + b)),
        WType::Q4_0 => lanes32(w, 18, a, 34, false, |x, b| nibble(x, 2, b) - 8),
        WType::Q4_1 => lanes32(w, 20, a, 36, true, |x, b| nibble(x, 4, b)),
        WType::Q5_0 => lanes32(w, 22, a, 34, false, |x, b| q5_value(x, 6, b) - 16),
        WType::Q5_1 => lanes32(w, 24, a, 36, true, |x, b| q5_value(x, 8, b)),
        WType::Q4_K => q4_k_dot(w, a),
        WType::Q5_K => {
            let (bytes, five) = (176, true);
            blocks(w, bytes, a, 292, |x, y| {
                let scales = &x[4..16];
                let mut sumi = 0i32;
                let mut summ = 0i32;
                for j in 0..8 {
                    let (sc, m) = scale_min_k4(j, scales);
                    let isum: i32 = (0..32)
                        .map(|l| qk_value(x, five, j, l) * i8_at(y, 4 + 32 * j + l))
                        .sum();
                    sumi += sc as i32 * isum;
                    summ += m as i32 * (bsum(y, 2 * j) + bsum(y, 2 * j + 1));
                }
                let dy = f32_at(y, 0);
                (f16_at(x, 0) * dy) * sumi as f32 - (f16_at(x, 2) * dy) * summ as f32
            })
        }
        WType::Q6_K => q6_k_dot(w, a),
    }
}

/// Q4_K in the arithmetic of llama.cpp's x86 kernels for repacked Q4_K weights
/// (`ggml_gemm_q4_K_8x8_q8_K`, which llama.cpp uses for every Q4_K matrix on AVX2 CPUs when
/// four or more rows are multiplied, e.g. prompt processing): per super-block and per pair of
/// sub-blocks, the exact integer sums `Σ scale·q·y` and `Σ min·bsum` are each accumulated with
/// one FMA, `acc = fma(Σ, d·dy, acc)` and `accm = fma(Σm, dmin·dy, accm)`, in block order; the
/// result is `acc − accm`. The activation is in [`super::types::AType::Q8_KT`] order.
pub fn q4_k_dot(w: &[u8], a: &[u8]) -> f32 {
    let mut acc = 0.0f32;
    let mut accm = 0.0f32;
    for (x, y) in w.chunks_exact(144).zip(a.chunks_exact(292)) {
        let dy = f32_at(y, 0);
        let dd = f16_at(x, 0) * dy;
        let dm = f16_at(x, 2) * dy;
        let scales = &x[4..16];
        for p in 0..4 {
            let mut si = 0i32;
            let mut sm = 0i32;
            for j in [2 * p, 2 * p + 1] {
                let (sc, m) = scale_min_k4(j, scales);
                let isum: i32 = (0..32)
                    .map(|l| qk_value(x, false, j, l) * i8_at(y, 4 + q8_kt_pos(32 * j + l)))
                    .sum();
                si += sc as i32 * isum;
                sm += m as i32 * (bsum(y, 2 * j) + bsum(y, 2 * j + 1));
            }
            acc = (si as f32).mul_add(dd, acc);
            accm = (sm as f32).mul_add(dm, accm);
        }
    }
    acc - accm
}

/// Q6_K in the arithmetic of llama.cpp's x86 `ggml_vec_dot_q6_K_q8_K` (AVX2, also used by
/// its AVX-512 build): 8 lanes, lane `k` holding the exact integer sum over elements
/// `i ≡ 4k..4k+3 (mod 32)` of `scale·(q − 32)·y`; per super-block each lane is accumulated
/// with `acc = fma(d·dy, lane, acc)`; the result is ggml's 8-lane horizontal sum.
pub fn q6_k_dot(w: &[u8], a: &[u8]) -> f32 {
    let mut acc = [0.0f32; 8];
    for (x, y) in w.chunks_exact(210).zip(a.chunks_exact(292)) {
        let d = f32_at(y, 0) * f16_at(x, 208);
        let mut lanes = [0i32; 8];
        for i in 0..QK_K {
            let sc = x[192 + i / 16] as i8 as i32;
            lanes[(i % 32) / 4] += sc * (q6_value(x, i) - 32) * i8_at(y, 4 + i);
        }
        for (c, &l) in acc.iter_mut().zip(&lanes) {
            *c = d.mul_add(l as f32, *c);
        }
    }
    super::act::hsum(&acc)
}

/// Dequantises one weight row into `out` (`out.len()` elements), with ggml's arithmetic.
pub fn dequantize_row(wt: WType, w: &[u8], out: &mut [f32]) {
    match wt {
        WType::F32 => each(w, 4, out, 1, |b, o| o[0] = f32_at(b, 0)),
        WType::F16 => each(w, 2, out, 1, |b, o| o[0] = f16_at(b, 0)),
        WType::BF16 => each(w, 2, out, 1, |b, o| o[0] = bf16(b)),
        WType::Q8_0 => each(w, 34, out, 32, |b, o| {
            let d = f16_at(b, 0);
            for (j, v) in o.iter_mut().enumerate() {
                *v = i8_at(b, 2 + j) as f32 * d;
            }
        }),
        WType::Q4_0 => each(w, 18, out, 32, |b, o| {
            let d = f16_at(b, 0);
            for j in 0..16 {
                o[j] = ((b[2 + j] & 0xF) as i32 - 8) as f32 * d;
                o[j + 16] = ((b[2 + j] >> 4) as i32 - 8) as f32 * d;
            }
        }),
        WType::Q4_1 => each(w, 20, out, 32, |b, o| {
            let (d, m) = (f16_at(b, 0), f16_at(b, 2));
            for j in 0..16 {
                o[j] = (b[4 + j] & 0xF) as f32 * d + m;
                o[j + 16] = (b[4 + j] >> 4) as f32 * d + m;
            }
        }),
        WType::Q5_0 => each(w, 22, out, 32, |b, o| {
            let d = f16_at(b, 0);
            for (j, v) in o.iter_mut().enumerate() {
                *v = (q5_value(b, 6, j) - 16) as f32 * d;
            }
        }),
        WType::Q5_1 => each(w, 24, out, 32, |b, o| {
            let (d, m) = (f16_at(b, 0), f16_at(b, 2));
            for (j, v) in o.iter_mut().enumerate() {
                *v = q5_value(b, 8, j) as f32 * d + m;
            }
        }),
        WType::Q4_K | WType::Q5_K => {
            let (bytes, five) = if wt == WType::Q4_K {
                (144, false)
            } else {
                (176, true)
            };
            each(w, bytes, out, QK_K, |b, o| {
                let (d, dmin) = (f16_at(b, 0), f16_at(b, 2));
                for j in 0..8 {
                    let (sc, m) = scale_min_k4(j, &b[4..16]);
                    let (d1, m1) = (d * sc as f32, dmin * m as f32);
                    for l in 0..32 {
                        o[32 * j + l] = d1 * qk_value(b, five, j, l) as f32 - m1;
                    }
                }
            })
        }
        WType::Q6_K => each(w, 210, out, QK_K, |b, o| {
            let d = f16_at(b, 208);
            for (i, v) in o.iter_mut().enumerate() {
                *v = d * (b[192 + i / 16] as i8 as f32) * (q6_value(b, i) - 32) as f32;
            }
        }),
    }
}

/// The 32-element block types as ggml's x86 `ggml_vec_dot_*` kernels (AVX2, also used by its
/// AVX-512 build) and llama.cpp's tinyBLAS for quantised batches: 8 lanes, lane `k` holding
/// the exact `Σ x·y` over elements `4k..4k+3` of a block; per block `acc[k] = fma(dx·dy,
/// lane_k, acc[k])`; the result is ggml's 8-lane horizontal sum, plus (Q4_1/Q5_1, `with_min`)
/// `Σ m·s` added block by block. `value(block, j)` is weight element `j` (0..32).
#[inline(always)]
fn lanes32(
    w: &[u8],
    wb: usize,
    a: &[u8],
    ab: usize,
    with_min: bool,
    value: impl Fn(&[u8], usize) -> i32,
) -> f32 {
    let qs_at = if ab == 36 { 4 } else { 2 };
    let mut acc = [0.0f32; 8];
    let mut summs = 0.0f32;
    for (x, y) in w.chunks_exact(wb).zip(a.chunks_exact(ab)) {
        let d = f16_at(x, 0) * f16_at(y, 0);
        for (k, c) in acc.iter_mut().enumerate() {
            let lane: i32 = (4 * k..4 * k + 4)
                .map(|j| value(x, j) * i8_at(y, qs_at + j))
                .sum();
            *c = d.mul_add(lane as f32, *c);
        }
        if with_min {
            summs += f16_at(x, 2) * f16_at(y, 2);
        }
    }
    super::act::hsum(&acc) + summs
}

/// Element `j` (0..32) of a block of 16 nibble bytes at `qs_at`: low nibbles first.
#[inline(always)]
fn nibble(b: &[u8], qs_at: usize, j: usize) -> i32 {
    if j < 16 {
        (b[qs_at + j] & 0xF) as i32
    } else {
        (b[qs_at + j - 16] >> 4) as i32
    }
}

/// Sum over blocks of `f(weight_block, act_block)`, in block order.
#[inline(always)]
fn blocks(w: &[u8], wb: usize, a: &[u8], ab: usize, f: impl Fn(&[u8], &[u8]) -> f32) -> f32 {
    w.chunks_exact(wb)
        .zip(a.chunks_exact(ab))
        .fold(0.0, |s, (x, y)| s + f(x, y))
}

#[inline(always)]
fn each(w: &[u8], wb: usize, out: &mut [f32], n: usize, f: impl Fn(&[u8], &mut [f32])) {
    for (b, o) in w.chunks_exact(wb).zip(out.chunks_exact_mut(n)) {
        f(b, o);
    }
}

#[inline(always)]
fn i8_at(b: &[u8], at: usize) -> i32 {
    b[at] as i8 as i32
}

#[inline(always)]
fn bf16(b: &[u8]) -> f32 {
    bf16_bits_to_f32(u16::from_le_bytes([b[0], b[1]]))
}

#[inline(always)]
fn bsum(y: &[u8], j: usize) -> i32 {
    let at = 4 + QK_K + 2 * j;
    i16::from_le_bytes([y[at], y[at + 1]]) as i32
}

/// Element `j` (0..32) of a Q5_0/Q5_1 block: low nibble from `qs` (at `qs_at`), fifth bit from
/// the 32-bit `qh` just before it. Elements 0..16 use low nibbles, 16..32 high nibbles.
#[inline(always)]
fn q5_value(b: &[u8], qs_at: usize, j: usize) -> i32 {
    let qh = u32::from_le_bytes([b[qs_at - 4], b[qs_at - 3], b[qs_at - 2], b[qs_at - 1]]);
    let nib = if j < 16 {
        b[qs_at + j] & 0xF
    } else {
        b[qs_at + j - 16] >> 4
    };
    (nib as i32) | ((((qh >> j) & 1) as i32) << 4)
}

/// ggml's `get_scale_min_k4`: the 6-bit scale and min of sub-block `j` (0..8).
#[inline(always)]
pub(crate) fn scale_min_k4(j: usize, q: &[u8]) -> (u8, u8) {
    if j < 4 {
        (q[j] & 63, q[j + 4] & 63)
    } else {
        (
            (q[j + 4] & 0xF) | ((q[j - 4] >> 6) << 4),
            (q[j + 4] >> 4) | ((q[j] >> 6) << 4),
        )
    }
}

/// Element `l` (0..32) of sub-block `j` (0..8) of a Q4_K/Q5_K block. Sub-blocks pair up on
/// 32 bytes of nibbles: even `j` the low nibbles, odd `j` the high ones; Q5_K adds bit `j` of
/// `qh[l]` as the fifth bit.
#[inline(always)]
fn qk_value(b: &[u8], five: bool, j: usize, l: usize) -> i32 {
    let qs_at = if five { 48 } else { 16 };
    let byte = b[qs_at + 32 * (j / 2) + l];
    let nib = if j.is_multiple_of(2) {
        byte & 0xF
    } else {
        byte >> 4
    };
    let high = if five { ((b[16 + l] >> j) & 1) << 4 } else { 0 };
    (nib | high) as i32
}

/// Element `i` (0..256) of a Q6_K block, unsigned (0..64): `ql` at 0, `qh` at 128.
#[inline(always)]
fn q6_value(b: &[u8], i: usize) -> i32 {
    let (half, r) = (i / 128, i % 128);
    let (quarter, l) = (r / 32, r % 32);
    let ql = b[64 * half + l + 32 * (quarter % 2)];
    let low = if quarter < 2 { ql & 0xF } else { ql >> 4 };
    let qh = (b[128 + 32 * half + l] >> (2 * quarter)) & 3;
    (low | (qh << 4)) as i32
}

/// Converts an f16 slice to f32 (helper for tests and the KV cache reference).
pub fn f16_to_f32(src: &[f16], dst: &mut [f32]) {
    for (s, d) in src.iter().zip(dst.iter_mut()) {
        *d = s.to_f32();
    }
}
