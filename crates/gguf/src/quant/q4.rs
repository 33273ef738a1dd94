//! Q4_0 (`block_q4_0`: f16 d, 16 bytes of nibbles) and Q4_1 (f16 d, f16 m, 16 bytes).
//! Element j of a block is the low nibble of byte j, element j+16 the high nibble.

use super::{f16_at, put_f16, signed_absmax};

pub(super) fn quantize_q4_0(src: &[f32], out: &mut [u8]) {
    for (x, b) in src.chunks_exact(32).zip(out.chunks_exact_mut(18)) {
        let max = signed_absmax(x);
        let d = max / -8.0;
        let id = if d != 0.0 { 1.0 / d } else { 0.0 };
        put_f16(b, 0, d);
        for j in 0..16 {
            let q0 = ((x[j] * id + 8.5) as i8).min(15) as u8;
            let q1 = ((x[j + 16] * id + 8.5) as i8).min(15) as u8;
            b[2 + j] = q0 | (q1 << 4);
        }
    }
}

pub(super) fn dequantize_q4_0(src: &[u8], dst: &mut [f32]) {
    for (b, y) in src.chunks_exact(18).zip(dst.chunks_exact_mut(32)) {
        let d = f16_at(b, 0);
        for j in 0..16 {
            y[j] = f32::from(i16::from(b[2 + j] & 0xF) - 8) * d;
            y[j + 16] = f32::from(i16::from(b[2 + j] >> 4) - 8) * d;
        }
    }
}

pub(super) fn quantize_q4_1(src: &[f32], out: &mut [u8]) {
    for (x, b) in src.chunks_exact(32).zip(out.chunks_exact_mut(20)) {
        let min = x.iter().fold(f32::MAX, |m, &v| m.min(v));
        let max = x.iter().fold(-f32::MAX, |m, &v| m.max(v));
        let d = (max - min) / 15.0;
        let id = if d != 0.0 { 1.0 / d } else { 0.0 };
        put_f16(b, 0, d);
        put_f16(b, 2, min);
        for j in 0..16 {
            let q0 = (((x[j] - min) * id + 0.5) as i8).min(15) as u8;
            let q1 = (((x[j + 16] - min) * id + 0.5) as i8).min(15) as u8;
            b[4 + j] = q0 | (q1 << 4);
        }
    }
}

pub(super) fn dequantize_q4_1(src: &[u8], dst: &mut [f32]) {
    for (b, y) in src.chunks_exact(20).zip(dst.chunks_exact_mut(32)) {
        let d = f16_at(b, 0);
        let m = f16_at(b, 2);
        for j in 0..16 {
            y[j] = f32::from(b[4 + j] & 0xF) * d + m;
            y[j + 16] = f32::from(b[4 + j] >> 4) * d + m;
        }
    }
}
