//! AVX-512 forms of `kernels::quantize`: Q8_0, Q8_1, Q8_K and Q8_KT activation rows, byte for
//! byte as the scalar quantizer (`quantize::quantize_row_reference`), which follows ggml's
//! AVX2 quantizer (Q8_0, Q8_1) and `quantize_row_q8_K_ref` (Q8_K).
#![allow(unsafe_code)]

use super::X86Level;
use std::arch::x86_64::*;

/// Quantises `x` (whole 32-element blocks) into Q8_0 blocks (34 bytes) or, with `with_sum`,
/// Q8_1 blocks (36 bytes) in `dst`. `false` (nothing written) when the lengths do not match,
/// the level is not AVX-512 or the CPU lacks it. A block with a non-finite value is left to
/// `scalar`, the reference.
pub fn q8_row(
    level: X86Level,
    x: &[f32],
    dst: &mut [u8],
    with_sum: bool,
    scalar: fn(&[f32], &mut [u8], bool),
) -> bool {
    let bb = if with_sum { 36 } else { 34 };
    each_block(level, x, dst, with_sum, (32, bb), q8_block, scalar)
}

/// The driver of both quantizers: `simd` on every block of `n` values (`bb` bytes, given as
/// `(n, bb)`) with `flag`, and `scalar` on the blocks it declines. `false` (nothing written)
/// when `x` and `dst` are not whole blocks of the same count, or the level is not AVX-512 or
/// the CPU lacks it. `(n, bb)` must be the block shape `simd` reads and writes.
fn each_block(
    level: X86Level,
    x: &[f32],
    dst: &mut [u8],
    flag: bool,
    (n, bb): (usize, usize),
    simd: unsafe fn(&[f32], &mut [u8], bool) -> bool,
    scalar: fn(&[f32], &mut [u8], bool),
) -> bool {
    if level != X86Level::Avx512Vnni
        || !level.supported()
        || !x.len().is_multiple_of(n)
        || dst.len() != x.len() / n * bb
    {
        return false;
    }
    for (xb, b) in x.chunks_exact(n).zip(dst.chunks_exact_mut(bb)) {
        // SAFETY: `xb` holds one block of values and `b` its bytes, as `simd` takes them; the
        // CPU supports AVX-512 F/BW (checked above).
        if !unsafe { simd(xb, b, flag) } {
            scalar(xb, b, flag);
        }
    }
    true
}

/// One block: `false` (nothing written) if a value is not finite.
#[target_feature(enable = "avx2,fma,f16c,avx512f,avx512bw,avx512vl")]
unsafe fn q8_block(x: &[f32], b: &mut [u8], with_sum: bool) -> bool {
    // SAFETY: the caller guarantees 32 values in `x`, the block's bytes in `b` and the
    // features.
    unsafe {
        let v0 = _mm512_loadu_ps(x.as_ptr());
        let v1 = _mm512_loadu_ps(x.as_ptr().add(16));
        let a0 = _mm512_abs_ps(v0);
        let a1 = _mm512_abs_ps(v1);
        let big = _mm512_set1_ps(f32::MAX);
        // Ordered comparisons: NaN fails them too.
        if _mm512_cmp_ps_mask::<_CMP_LE_OQ>(a0, big) != 0xFFFF
            || _mm512_cmp_ps_mask::<_CMP_LE_OQ>(a1, big) != 0xFFFF
        {
            return false;
        }
        // The maximum is exact whatever the order.
        let amax = _mm512_reduce_max_ps(_mm512_max_ps(a0, a1));
        let d = amax / 127.0;
        let id = if amax != 0.0 { 127.0 / amax } else { 0.0 };
        let vid = _mm512_set1_ps(id);
        const NEAREST: i32 = _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC;
        let q0 = _mm512_cvtps_epi32(_mm512_roundscale_ps::<NEAREST>(_mm512_mul_ps(v0, vid)));
        let q1 = _mm512_cvtps_epi32(_mm512_roundscale_ps::<NEAREST>(_mm512_mul_ps(v1, vid)));
        let qs_at = if with_sum { 4 } else { 2 };
        let out = b.as_mut_ptr().add(qs_at);
        _mm_storeu_si128(out as *mut __m128i, _mm512_cvtepi32_epi8(q0));
        _mm_storeu_si128(out.add(16) as *mut __m128i, _mm512_cvtepi32_epi8(q1));
        b[0..2].copy_from_slice(&half::f16::from_f32(d).to_le_bytes());
        if with_sum {
            let sum = _mm512_reduce_add_epi32(_mm512_add_epi32(q0, q1));
            b[2..4].copy_from_slice(&half::f16::from_f32(d * sum as f32).to_le_bytes());
        }
        true
    }
}

/// Quantises `x` (whole 256-element super-blocks) into Q8_K blocks (292 bytes) in `dst`, or
/// with `transposed` into `AType::Q8_KT` order (16-byte piece `4j + k` of the quants at piece
/// `4k + j`). `false` (nothing written) as [`q8_row`]; a block with a non-finite value is left
/// to `scalar`.
pub fn q8k_row(
    level: X86Level,
    x: &[f32],
    dst: &mut [u8],
    transposed: bool,
    scalar: fn(&[f32], &mut [u8], bool),
) -> bool {
    each_block(level, x, dst, transposed, (256, 292), q8k_block, scalar)
}

/// One super-block: `false` (nothing written) if a value is not finite.
#[target_feature(enable = "avx2,fma,f16c,avx512f,avx512bw,avx512vl")]
unsafe fn q8k_block(x: &[f32], b: &mut [u8], transposed: bool) -> bool {
    // SAFETY: the caller guarantees 256 values in `x`, 292 bytes in `b` and the features.
    unsafe {
        let big = _mm512_set1_ps(f32::MAX);
        let mut v = [_mm512_setzero_ps(); 16];
        let mut m = _mm512_setzero_ps();
        for (r, vr) in v.iter_mut().enumerate() {
            *vr = _mm512_loadu_ps(x.as_ptr().add(16 * r));
            let a = _mm512_abs_ps(*vr);
            if _mm512_cmp_ps_mask::<_CMP_LE_OQ>(a, big) != 0xFFFF {
                return false;
            }
            m = _mm512_max_ps(m, a);
        }
        let amax = _mm512_reduce_max_ps(m);
        if amax == 0.0 {
            b.fill(0);
            return true;
        }
        // The signed value of the first element whose magnitude is `amax`.
        let target = _mm512_set1_ps(amax);
        let mut max = 0.0f32;
        for (r, vr) in v.iter().enumerate() {
            let hit = _mm512_cmp_ps_mask::<_CMP_EQ_OQ>(_mm512_abs_ps(*vr), target);
            if hit != 0 {
                max = x[16 * r + hit.trailing_zeros() as usize];
                break;
            }
        }
        let iscale = -127.0 / max;
        let vis = _mm512_set1_ps(iscale);
        let top = _mm512_set1_epi32(127);
        const NEAREST: i32 = _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC;
        for (r, vr) in v.iter().enumerate() {
            let q = _mm512_cvtps_epi32(_mm512_roundscale_ps::<NEAREST>(_mm512_mul_ps(*vr, vis)));
            let q = _mm512_min_epi32(q, top);
            let piece = if transposed { 4 * (r % 4) + r / 4 } else { r };
            _mm_storeu_si128(
                b.as_mut_ptr().add(4 + 16 * piece) as *mut __m128i,
                _mm512_cvtepi32_epi8(q),
            );
            let sum = _mm512_reduce_add_epi32(q) as i16;
            b[260 + 2 * r..262 + 2 * r].copy_from_slice(&sum.to_le_bytes());
        }
        b[0..4].copy_from_slice(&(1.0 / iscale).to_le_bytes());
        true
    }
}
