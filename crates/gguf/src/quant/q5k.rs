//! Q5_K (`block_q5_K`, 176 bytes per 256 values): f16 d, f16 dmin, 12 bytes of 6-bit
//! scales/mins, 32 bytes qh, 128 bytes qs. Like Q4_K, plus a fifth bit: for chunk c (64 values),
//! bit 2c of qh[l] is bit 4 of value 64c+l and bit 2c+1 that of value 64c+32+l.

use super::f16_at;
use super::k_scales::{scale_bytes, unpack_scale_min_k4};
use super::q4k::quantize_levels;

const BYTES: usize = 176;

pub(super) fn quantize(src: &[f32], out: &mut [u8]) {
    for (x, b) in src.chunks_exact(256).zip(out.chunks_exact_mut(BYTES)) {
        let l = quantize_levels(x, 31, b);
        b[16..48].fill(0);
        for c in 0..4 {
            for i in 0..32 {
                let (l1, l2) = (l[64 * c + i], l[64 * c + 32 + i]);
                b[16 + i] |= ((l1 >> 4) << (2 * c)) | ((l2 >> 4) << (2 * c + 1));
                b[48 + 32 * c + i] = (l1 & 0xF) | ((l2 & 0xF) << 4);
            }
        }
    }
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
                let ql = b[48 + 32 * c + i];
                let qh = b[16 + i];
                let h1 = ((qh >> (2 * c)) & 1) << 4;
                let h2 = ((qh >> (2 * c + 1)) & 1) << 4;
                y[64 * c + i] = d1 * f32::from((ql & 0xF) | h1) - m1;
                y[64 * c + 32 + i] = d2 * f32::from((ql >> 4) | h2) - m2;
            }
        }
    }
}
