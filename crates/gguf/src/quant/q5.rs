//! Q5_0 (`block_q5_0`: f16 d, u32 qh, 16 bytes qs) and Q5_1 (f16 d, f16 m, u32 qh, 16 bytes).
//! Element j: low nibble of qs[j] plus bit j of qh as bit 4; element j+16: high nibble of
//! qs[j] plus bit j+16 of qh.

use super::{f16_at, put_f16, signed_absmax};

fn pack(q: &[u8; 32], qh_qs: &mut [u8]) {
    let mut qh = 0u32;
    for j in 0..16 {
        qh_qs[4 + j] = (q[j] & 0xF) | ((q[j + 16] & 0xF) << 4);
        qh |= u32::from(q[j] >> 4) << j;
        qh |= u32::from(q[j + 16] >> 4) << (j + 16);
    }
    qh_qs[0..4].copy_from_slice(&qh.to_le_bytes());
}

fn unpack(qh_qs: &[u8]) -> [u8; 32] {
    let qh = u32::from_le_bytes([qh_qs[0], qh_qs[1], qh_qs[2], qh_qs[3]]);
    let mut q = [0u8; 32];
    for j in 0..16 {
        let hi0 = ((qh >> j) & 1) as u8;
        let hi1 = ((qh >> (j + 16)) & 1) as u8;
        q[j] = (qh_qs[4 + j] & 0xF) | (hi0 << 4);
        q[j + 16] = (qh_qs[4 + j] >> 4) | (hi1 << 4);
    }
    q
}

pub(super) fn quantize_q5_0(src: &[f32], out: &mut [u8]) {
    for (x, b) in src.chunks_exact(32).zip(out.chunks_exact_mut(22)) {
        let max = signed_absmax(x);
        let d = max / -16.0;
        let id = if d != 0.0 { 1.0 / d } else { 0.0 };
        put_f16(b, 0, d);
        let mut q = [0u8; 32];
        for (qi, v) in q.iter_mut().zip(x) {
            *qi = ((v * id + 16.5) as i8).min(31) as u8;
        }
        pack(&q, &mut b[2..]);
    }
}

pub(super) fn dequantize_q5_0(src: &[u8], dst: &mut [f32]) {
    for (b, y) in src.chunks_exact(22).zip(dst.chunks_exact_mut(32)) {
        let d = f16_at(b, 0);
        for (o, q) in y.iter_mut().zip(unpack(&b[2..])) {
            *o = f32::from(i16::from(q) - 16) * d;
        }
    }
}

pub(super) fn quantize_q5_1(src: &[f32], out: &mut [u8]) {
    for (x, b) in src.chunks_exact(32).zip(out.chunks_exact_mut(24)) {
        let min = x.iter().fold(f32::MAX, |m, &v| m.min(v));
        let max = x.iter().fold(-f32::MAX, |m, &v| m.max(v));
        let d = (max - min) / 31.0;
        let id = if d != 0.0 { 1.0 / d } else { 0.0 };
        put_f16(b, 0, d);
        put_f16(b, 2, min);
        let mut q = [0u8; 32];
        for (qi, v) in q.iter_mut().zip(x) {
            *qi = (((v - min) * id + 0.5) as u8).min(31);
        }
        pack(&q, &mut b[4..]);
    }
}

pub(super) fn dequantize_q5_1(src: &[u8], dst: &mut [f32]) {
    for (b, y) in src.chunks_exact(24).zip(dst.chunks_exact_mut(32)) {
        let d = f16_at(b, 0);
        let m = f16_at(b, 2);
        for (o, q) in y.iter_mut().zip(unpack(&b[4..])) {
            *o = f32::from(q) * d + m;
        }
    }
}
