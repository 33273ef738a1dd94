//! AVX-512 forms of `kernels::quantize`: Q8_0 and Q8_1 activation rows, byte for byte as the
//! scalar quantizer (`quantize::quantize_row_reference`), which follows ggml's AVX2 quantizer.
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
    if level != X86Level::Avx512Vnni
        || !level.supported()
        || !x.len().is_multiple_of(32)
        || dst.len() != x.len() / 32 * bb
    {
        return false;
    }
    for (xb, b) in x.chunks_exact(32).zip(dst.chunks_exact_mut(bb)) {
        // SAFETY: `xb` holds 32 values and `b` `bb` bytes; the CPU supports AVX-512 F/BW
        // (checked above).
        if !unsafe { q8_block(xb, b, with_sum) } {
            scalar(xb, b, with_sum);
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
