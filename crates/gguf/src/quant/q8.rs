//! Q8_0 (`block_q8_0`: f16 d, 32 × i8) and Q8_K (`block_q8_K`: f32 d, 256 × i8, 16 × i16 bsums).

use super::{f16_at, nearest_int, put_f16, signed_absmax};

const Q8_0_BYTES: usize = 34;
const Q8_K_BYTES: usize = 292;

pub(super) fn quantize_q8_0(src: &[f32], out: &mut [u8]) {
    for (x, b) in src.chunks_exact(32).zip(out.chunks_exact_mut(Q8_0_BYTES)) {
        let amax = x.iter().fold(0.0f32, |m, v| m.max(v.abs()));
        let d = amax / 127.0;
        let id = if d != 0.0 { 1.0 / d } else { 0.0 };
        put_f16(b, 0, d);
        for (q, v) in b[2..].iter_mut().zip(x) {
            *q = (v * id).round() as i8 as u8;
        }
    }
}

pub(super) fn dequantize_q8_0(src: &[u8], dst: &mut [f32]) {
    for (b, y) in src.chunks_exact(Q8_0_BYTES).zip(dst.chunks_exact_mut(32)) {
        let d = f16_at(b, 0);
        for (o, q) in y.iter_mut().zip(&b[2..]) {
            *o = f32::from(*q as i8) * d;
        }
    }
}

pub(super) fn quantize_q8_k(src: &[f32], out: &mut [u8]) {
    for (x, b) in src.chunks_exact(256).zip(out.chunks_exact_mut(Q8_K_BYTES)) {
        b.fill(0);
        let max = signed_absmax(x);
        if max == 0.0 {
            continue;
        }
        let iscale = -127.0 / max;
        for (q, v) in b[4..260].iter_mut().zip(x) {
            *q = nearest_int(iscale * v).min(127) as i8 as u8;
        }
        for j in 0..16 {
            let sum: i32 = b[4 + 16 * j..4 + 16 * (j + 1)]
                .iter()
                .map(|&q| i32::from(q as i8))
                .sum();
            b[260 + 2 * j..262 + 2 * j].copy_from_slice(&(sum as i16).to_le_bytes());
        }
        b[0..4].copy_from_slice(&(1.0 / iscale).to_le_bytes());
    }
}

pub(super) fn dequantize_q8_k(src: &[u8], dst: &mut [f32]) {
    for (b, y) in src.chunks_exact(Q8_K_BYTES).zip(dst.chunks_exact_mut(256)) {
        let d = f32::from_le_bytes([b[0], b[1], b[2], b[3]]);
        for (o, q) in y.iter_mut().zip(&b[4..260]) {
            *o = d * f32::from(*q as i8);
        }
    }
}
