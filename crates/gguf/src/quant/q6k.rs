//! Q6_K (`block_q6_K`, 210 bytes per 256 values): 128 bytes ql (low 4 bits), 64 bytes qh
//! (high 2 bits), 16 × i8 scales (one per 16 values), f16 d. Value = d·scale·(q − 32).
//! In each half h (128 values) and for l in 0..32: ql[64h+l] holds values 128h+l (low nibble)
//! and 128h+64+l (high); ql[64h+32+l] holds 128h+32+l and 128h+96+l; qh[32h+l] holds the high
//! bits of 128h+l, +32, +64, +96 in bit pairs 0, 2, 4, 6.

use super::k_fit::fit_scale_sym;
use super::{f16_at, nearest_int, put_f16, signed_absmax, via_f16};

const BYTES: usize = 210;

pub(super) fn quantize(src: &[f32], out: &mut [u8]) {
    for (x, b) in src.chunks_exact(256).zip(out.chunks_exact_mut(BYTES)) {
        b.fill(0);
        let mut scales = [0f32; 16];
        for (s, xs) in scales.iter_mut().zip(x.chunks_exact(16)) {
            *s = fit_scale_sym(xs, 32);
        }
        let max_scale = signed_absmax(&scales);
        if max_scale == 0.0 {
            continue;
        }
        let iscale = -128.0 / max_scale;
        put_f16(b, 208, 1.0 / iscale);
        let d = via_f16(1.0 / iscale);
        let mut levels = [32u8; 256];
        for (j, (xs, lv)) in x
            .chunks_exact(16)
            .zip(levels.chunks_exact_mut(16))
            .enumerate()
        {
            let sc = nearest_int(iscale * scales[j]).clamp(-128, 127) as i8;
            b[192 + j] = sc as u8;
            let dd = d * f32::from(sc);
            if dd == 0.0 {
                continue;
            }
            for (l, &v) in lv.iter_mut().zip(xs) {
                *l = (nearest_int(v / dd).clamp(-32, 31) + 32) as u8;
            }
        }
        for h in 0..2 {
            for l in 0..32 {
                let q = |k: usize| levels[128 * h + 32 * k + l];
                b[64 * h + l] = (q(0) & 0xF) | ((q(2) & 0xF) << 4);
                b[64 * h + 32 + l] = (q(1) & 0xF) | ((q(3) & 0xF) << 4);
                b[128 + 32 * h + l] =
                    (q(0) >> 4) | ((q(1) >> 4) << 2) | ((q(2) >> 4) << 4) | ((q(3) >> 4) << 6);
            }
        }
    }
}

pub(super) fn dequantize(src: &[u8], dst: &mut [f32]) {
    for (b, y) in src.chunks_exact(BYTES).zip(dst.chunks_exact_mut(256)) {
        let d = f16_at(b, 208);
        for h in 0..2 {
            for l in 0..32 {
                let is = l / 16;
                let ql0 = b[64 * h + l];
                let ql1 = b[64 * h + 32 + l];
                let qh = b[128 + 32 * h + l];
                let q = [
                    (ql0 & 0xF) | ((qh & 3) << 4),
                    (ql1 & 0xF) | (((qh >> 2) & 3) << 4),
                    (ql0 >> 4) | (((qh >> 4) & 3) << 4),
                    (ql1 >> 4) | (((qh >> 6) & 3) << 4),
                ];
                for (k, &qk) in q.iter().enumerate() {
                    let sc = f32::from(b[192 + 8 * h + is + 2 * k] as i8);
                    y[128 * h + 32 * k + l] = d * sc * f32::from(i16::from(qk) - 32);
                }
            }
        }
    }
}
