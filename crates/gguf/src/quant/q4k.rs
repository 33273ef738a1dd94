//! Q4_K (`block_q4_K`, 144 bytes per 256 values): f16 d, f16 dmin, 12 bytes of 6-bit
//! scales/mins for eight sub-blocks of 32, then 128 bytes of nibbles. Within each 64-value
//! chunk c, byte 32c+l holds value 64c+l (low nibble) and 64c+32+l (high nibble).
//! Value = d·scale·q − dmin·min.

use super::k_fit::fit_scale_min;
use super::k_scales::{pack_scale_min_k4, quantize_scales, scale_bytes, unpack_scale_min_k4};
use super::{f16_at, nearest_int, put_f16, via_f16};

const BYTES: usize = 144;

pub(super) fn quantize(src: &[f32], out: &mut [u8]) {
    for (x, b) in src.chunks_exact(256).zip(out.chunks_exact_mut(BYTES)) {
        let l = quantize_levels(x, 15, b);
        for c in 0..4 {
            for i in 0..32 {
                b[16 + 32 * c + i] = l[64 * c + i] | (l[64 * c + 32 + i] << 4);
            }
        }
    }
}

/// Shared by Q4_K and Q5_K: fits the sub-blocks, writes d, dmin and the packed scales into
/// `b[0..16]`, and returns the levels (0..=nmax) of all 256 values.
pub(super) fn quantize_levels(x: &[f32], nmax: u8, b: &mut [u8]) -> [u8; 256] {
    let mut levels = [0u8; 256];
    let mut scales = [0f32; 8];
    let mut mins = [0f32; 8];
    for (j, (xs, ls)) in x
        .chunks_exact(32)
        .zip(levels.chunks_exact_mut(32))
        .enumerate()
    {
        (scales[j], mins[j]) = fit_scale_min(xs, nmax, ls);
    }
    let (d, dmin, ls, lm) = quantize_scales(&scales, &mins);
    put_f16(b, 0, d);
    put_f16(b, 2, dmin);
    b[4..16].copy_from_slice(&pack_scale_min_k4(&ls, &lm));
    let (d, dmin) = (via_f16(d), via_f16(dmin));
    for (j, (xs, lv)) in x
        .chunks_exact(32)
        .zip(levels.chunks_exact_mut(32))
        .enumerate()
    {
        let dd = d * f32::from(ls[j]);
        let dm = dmin * f32::from(lm[j]);
        for (l, &v) in lv.iter_mut().zip(xs) {
            *l = if dd == 0.0 {
                0
            } else {
                nearest_int((v + dm) / dd).clamp(0, i32::from(nmax)) as u8
            };
        }
    }
    levels
}

pub(super) fn dequantize(src: &[u8], dst: &mut [f32]) {
    for (b, y) in src.chunks_exact(BYTES).zip(dst.chunks_exact_mut(256)) {
        let d = f16_at(b, 0);
        let dmin = f16_at(b, 2);
        let sc = scale_bytes(b, 4);
        for c in 0..4 {
            let (s1, m1) = unpack_scale_min_k4(2 * c, &sc);
            let (s2, m2) = unpack_scale_min_k4(2 * c + 1, &sc);
            let (d1, m1) = (d * f32::from(s1), dmin * f32::from(m1));
            let (d2, m2) = (d * f32::from(s2), dmin * f32::from(m2));
            for i in 0..32 {
                let q = b[16 + 32 * c + i];
                y[64 * c + i] = d1 * f32::from(q & 0xF) - m1;
                y[64 * c + 32 + i] = d2 * f32::from(q >> 4) - m2;
            }
        }
    }
}
