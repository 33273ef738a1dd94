//! Round-trip tolerances and known-answer blocks for every supported type.

use super::*;
use crate::GgmlType::{self, *};

/// Deterministic xorshift64* values, roughly normal (sum of uniforms), with a few outliers.
fn data(n: usize, seed: u64) -> Vec<f32> {
    let mut s = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    let mut next = || {
        s ^= s >> 12;
        s ^= s << 25;
        s ^= s >> 27;
        (s.wrapping_mul(0x2545_F491_4F6C_DD1D) >> 40) as f32 / (1u64 << 24) as f32
    };
    (0..n)
        .map(|i| {
            let g = (0..4).map(|_| next()).sum::<f32>() - 2.0;
            if i % 97 == 0 { g * 4.0 } else { g }
        })
        .collect()
}

fn rel_rms(ty: GgmlType, x: &[f32]) -> f32 {
    let mut bytes = Vec::new();
    quantize_row(ty, x, &mut bytes).unwrap();
    assert_eq!(bytes.len(), ty.row_bytes(x.len()).unwrap());
    let mut y = vec![0f32; x.len()];
    dequantize_row(ty, &bytes, &mut y).unwrap();
    let num: f32 = x.iter().zip(&y).map(|(a, b)| (a - b) * (a - b)).sum();
    let den: f32 = x.iter().map(|a| a * a).sum();
    (num / den).sqrt()
}

#[test]
fn round_trip_within_tolerance() {
    // Named per-type bounds on relative RMS error for normal-ish data with outliers (every
    // 97th value ×4). Measured: f16 2e-4, bf16 1.7e-3, q8_0 6e-3, q8_K 1.06e-2, q6_K 1.9e-2,
    // q5_1 3.8e-2, q5_K 3.7e-2, q5_0 4.7e-2, q4_K 7.5e-2, q4_1 8.0e-2, q4_0 9.3e-2; the 4-bit
    // figures are at the uniform-noise bound (range/15/√12) for 32-value sub-blocks.
    let table: [(GgmlType, f32); 12] = [
        (F32, 0.0),
        (F16, 0.001),
        (BF16, 0.005),
        (Q8_0, 0.01),
        (Q8_K, 0.012),
        (Q6_K, 0.025),
        (Q5_0, 0.05),
        (Q5_1, 0.045),
        (Q5_K, 0.04),
        (Q4_0, 0.1),
        (Q4_1, 0.09),
        (Q4_K, 0.08),
    ];
    let x = data(4096, 1);
    for (ty, tol) in table {
        let e = rel_rms(ty, &x);
        assert!(e <= tol, "{ty}: relative RMS error {e} > {tol}");
        if ty != F32 {
            assert!(e > 0.0, "{ty}: suspiciously exact");
        }
    }
}

#[test]
fn k_quants_beat_their_legacy_counterparts() {
    let x = data(8192, 7);
    assert!(rel_rms(Q4_K, &x) < rel_rms(Q4_0, &x));
    assert!(rel_rms(Q5_K, &x) < rel_rms(Q5_0, &x));
}

#[test]
fn zeros_constants_and_positive_data() {
    for ty in [
        F16, BF16, Q8_0, Q8_K, Q6_K, Q5_0, Q5_1, Q5_K, Q4_0, Q4_1, Q4_K,
    ] {
        let z = vec![0f32; 256];
        assert_eq!(rel_rms_abs(ty, &z), 0.0, "{ty} zeros");
        let pos: Vec<f32> = data(512, 3).iter().map(|v| v.abs() + 1.0).collect();
        let mut bytes = Vec::new();
        quantize_row(ty, &pos, &mut bytes).unwrap();
        let mut y = vec![0f32; pos.len()];
        dequantize_row(ty, &bytes, &mut y).unwrap();
        for (a, b) in pos.iter().zip(&y) {
            assert!((a - b).abs() < 0.25 * a.abs() + 0.05, "{ty}: {a} vs {b}");
        }
    }
}

fn rel_rms_abs(ty: GgmlType, x: &[f32]) -> f32 {
    let mut bytes = Vec::new();
    quantize_row(ty, x, &mut bytes).unwrap();
    let mut y = vec![1f32; x.len()];
    dequantize_row(ty, &bytes, &mut y).unwrap();
    x.iter()
        .zip(&y)
        .map(|(a, b)| (a - b).abs())
        .fold(0.0, f32::max)
}

#[test]
fn q4_0_known_block() {
    // d = 0.5; byte j holds element j (low nibble) and j+16 (high nibble); value = (q-8)·d.
    let mut b = vec![0u8; 18];
    b[0..2].copy_from_slice(&half::f16::from_f32(0.5).to_le_bytes());
    for j in 0..16 {
        b[2 + j] = (j as u8) | ((15 - j as u8) << 4);
    }
    let mut y = [0f32; 32];
    dequantize_row(Q4_0, &b, &mut y).unwrap();
    for j in 0..16 {
        assert_eq!(y[j], (j as f32 - 8.0) * 0.5);
        assert_eq!(y[j + 16], (7.0 - j as f32) * 0.5);
    }
    // Exactly representable input round-trips exactly (max |x| = 4 = -8·d, d = -0.5).
    let x: Vec<f32> = (0..32).map(|i| ((i % 16) as f32 - 8.0) * 0.5).collect();
    assert_eq!(rel_rms_abs(Q4_0, &x), 0.0);
}

#[test]
fn q4_1_q5_known_blocks() {
    let mut b = vec![0u8; 20];
    b[0..2].copy_from_slice(&half::f16::from_f32(0.25).to_le_bytes());
    b[2..4].copy_from_slice(&half::f16::from_f32(-1.0).to_le_bytes());
    b[4] = 0x3A; // element 0 = 0xA, element 16 = 0x3
    let mut y = [0f32; 32];
    dequantize_row(Q4_1, &b, &mut y).unwrap();
    assert_eq!(
        (y[0], y[16], y[1]),
        (10.0 * 0.25 - 1.0, 3.0 * 0.25 - 1.0, -1.0)
    );

    // Q5_0: qh bit j is bit 4 of element j, bit j+16 that of element j+16.
    let mut b = vec![0u8; 22];
    b[0..2].copy_from_slice(&half::f16::from_f32(2.0).to_le_bytes());
    let qh: u32 = (1 << 3) | (1 << 20);
    b[2..6].copy_from_slice(&qh.to_le_bytes());
    b[6 + 3] = 0x21; // element 3: low 1 | 16 = 17; element 19: high 2
    b[6 + 4] = 0x5F; // element 4: 15; element 20: 5 | 16 = 21
    let mut y = [0f32; 32];
    dequantize_row(Q5_0, &b, &mut y).unwrap();
    assert_eq!(y[3], (17.0 - 16.0) * 2.0);
    assert_eq!(y[19], (2.0 - 16.0) * 2.0);
    assert_eq!(y[4], (15.0 - 16.0) * 2.0);
    assert_eq!(y[20], (21.0 - 16.0) * 2.0);
    assert_eq!(y[0], -32.0);

    // Q5_1 shares the bit layout, with a min.
    let mut b = vec![0u8; 24];
    b[0..2].copy_from_slice(&half::f16::from_f32(1.0).to_le_bytes());
    b[2..4].copy_from_slice(&half::f16::from_f32(0.5).to_le_bytes());
    b[4..8].copy_from_slice(&(1u32 << 31).to_le_bytes());
    b[8 + 15] = 0xF0;
    let mut y = [0f32; 32];
    dequantize_row(Q5_1, &b, &mut y).unwrap();
    assert_eq!((y[31], y[15], y[0]), (31.5, 0.5, 0.5));
}

#[test]
fn q8_known_blocks() {
    let mut b = vec![0u8; 34];
    b[0..2].copy_from_slice(&half::f16::from_f32(0.125).to_le_bytes());
    b[2] = (-128i8) as u8;
    b[33] = 127;
    let mut y = [0f32; 32];
    dequantize_row(Q8_0, &b, &mut y).unwrap();
    assert_eq!((y[0], y[31], y[1]), (-16.0, 15.875, 0.0));

    let x = data(256, 9);
    let mut b = Vec::new();
    quantize_row(Q8_K, &x, &mut b).unwrap();
    assert_eq!(b.len(), 292);
    // bsums are the sums of each 16 quants.
    for j in 0..16 {
        let s: i32 = b[4 + 16 * j..20 + 16 * j]
            .iter()
            .map(|&q| i32::from(q as i8))
            .sum();
        assert_eq!(
            i32::from(i16::from_le_bytes([b[260 + 2 * j], b[261 + 2 * j]])),
            s
        );
    }
}

/// Builds a Q4_K block: d, dmin, packed (scale, min) per sub-block, and all nibbles = `q`.
fn q4k_block(
    d: f32,
    dmin: f32,
    scales: [u8; 8],
    mins: [u8; 8],
    qs: impl Fn(usize) -> u8,
) -> Vec<u8> {
    let mut b = vec![0u8; 144];
    b[0..2].copy_from_slice(&half::f16::from_f32(d).to_le_bytes());
    b[2..4].copy_from_slice(&half::f16::from_f32(dmin).to_le_bytes());
    b[4..16].copy_from_slice(&pack_scale_min_k4(&scales, &mins));
    for i in 0..128 {
        b[16 + i] = qs(i);
    }
    b
}

#[test]
fn q4_k_known_block() {
    let scales = [1, 2, 3, 17, 33, 45, 63, 0];
    let mins = [0, 5, 62, 16, 1, 63, 32, 7];
    // Byte 32c+l: low nibble = value 64c+l, high nibble = value 64c+32+l.
    let b = q4k_block(0.5, 0.25, scales, mins, |i| {
        ((i % 16) as u8) | (((i / 8) % 16) as u8) << 4
    });
    let mut y = [0f32; 256];
    dequantize_row(Q4_K, &b, &mut y).unwrap();
    for c in 0..4 {
        for l in 0..32 {
            let byte = 32 * c + l;
            let (lo, hi) = ((byte % 16) as f32, ((byte / 8) % 16) as f32);
            let (s1, m1) = (scales[2 * c] as f32, mins[2 * c] as f32);
            let (s2, m2) = (scales[2 * c + 1] as f32, mins[2 * c + 1] as f32);
            assert_eq!(
                y[64 * c + l],
                0.5 * s1 * lo - 0.25 * m1,
                "value {}",
                64 * c + l
            );
            assert_eq!(y[64 * c + 32 + l], 0.5 * s2 * hi - 0.25 * m2);
        }
    }
    // The raw packing for sub-blocks ≥ 4: low 4 bits in bytes 8..12, top 2 bits in bytes 0..8.
    let packed = &b[4..16];
    assert_eq!(packed[8] & 0xF, 33 & 0xF);
    assert_eq!(packed[0] >> 6, 33 >> 4);
    assert_eq!(packed[4] >> 6, 1 >> 4);
    assert_eq!(packed[9] >> 4, 63 & 0xF);
}

#[test]
fn q5_k_known_block() {
    let mut b = vec![0u8; 176];
    b[0..2].copy_from_slice(&half::f16::from_f32(1.0).to_le_bytes());
    b[2..4].copy_from_slice(&half::f16::from_f32(1.0).to_le_bytes());
    b[4..16].copy_from_slice(&pack_scale_min_k4(
        &[1, 2, 1, 1, 1, 1, 1, 3],
        &[0, 0, 0, 0, 0, 0, 0, 4],
    ));
    b[16 + 5] = 0b1000_0001; // qh[5]: bit 0 → value 5 (+16); bit 7 → value 3·64+32+5 (+16)
    b[48 + 5] = 0x32; // chunk 0, l = 5: value 5 low 2, value 37 high 3
    b[48 + 96 + 5] = 0x90; // chunk 3: value 197 low 0, value 229 high 9
    let mut y = [0f32; 256];
    dequantize_row(Q5_K, &b, &mut y).unwrap();
    assert_eq!(y[5], 18.0);
    assert_eq!(y[37], 2.0 * 3.0);
    assert_eq!(y[197], 0.0);
    assert_eq!(y[229], 3.0 * 25.0 - 4.0);
}

#[test]
fn q6_k_known_block() {
    let mut b = vec![0u8; 210];
    let scales: [i8; 16] = [1, -2, 3, -4, 5, 6, 7, 8, -128, 127, 1, 1, 2, 2, 3, 3];
    for (j, s) in scales.iter().enumerate() {
        b[192 + j] = *s as u8;
    }
    b[208..210].copy_from_slice(&half::f16::from_f32(0.5).to_le_bytes());
    // Every 6-bit level q chosen as (value index * 7) % 64; pack by the documented layout.
    let level = |i: usize| ((i * 7) % 64) as u8;
    for h in 0..2 {
        for l in 0..32 {
            let q = |k: usize| level(128 * h + 32 * k + l);
            b[64 * h + l] = (q(0) & 0xF) | ((q(2) & 0xF) << 4);
            b[64 * h + 32 + l] = (q(1) & 0xF) | ((q(3) & 0xF) << 4);
            b[128 + 32 * h + l] =
                (q(0) >> 4) | ((q(1) >> 4) << 2) | ((q(2) >> 4) << 4) | ((q(3) >> 4) << 6);
        }
    }
    let mut y = [0f32; 256];
    dequantize_row(Q6_K, &b, &mut y).unwrap();
    for i in 0..256 {
        let expect = 0.5 * f32::from(scales[i / 16]) * (f32::from(level(i)) - 32.0);
        assert_eq!(y[i], expect, "value {i}");
    }
    // And the quantizer's own packing agrees with the dequantizer on its values.
    let x = data(256, 11);
    assert!(rel_rms(Q6_K, &x) < 0.025);
}

#[test]
fn f16_bf16_known_values() {
    let x = [1.0f32, -2.5, 65504.0, 1.0 / 3.0];
    let mut b = Vec::new();
    quantize_row(F16, &x, &mut b).unwrap();
    assert_eq!(&b[0..2], &[0x00, 0x3C]);
    assert_eq!(&b[2..4], &[0x00, 0xC1]);
    let mut b = Vec::new();
    // 1 + 2^-8 is a tie between bf16 neighbours 1.0 and 1 + 2^-7: rounds to even (1.0).
    quantize_row(
        BF16,
        &[1.0 + 1.0 / 256.0, 1.0 + 3.0 / 256.0, f32::NAN],
        &mut b,
    )
    .unwrap();
    assert_eq!(u16::from_le_bytes([b[0], b[1]]), 0x3F80);
    assert_eq!(u16::from_le_bytes([b[2], b[3]]), 0x3F82);
    let mut y = [0f32; 3];
    dequantize_row(BF16, &b, &mut y).unwrap();
    assert_eq!(y[1], 1.0 + 2.0 / 128.0);
    assert!(y[2].is_nan());
}

#[test]
fn bad_lengths_and_types_are_errors() {
    let mut out = Vec::new();
    assert!(quantize_row(Q4_K, &[0.0; 255], &mut out).is_err());
    assert!(quantize_row(Q8_0, &[0.0; 33], &mut out).is_err());
    assert!(quantize_row(Q2_K, &[0.0; 256], &mut out).is_err());
    assert!(out.is_empty());
    let mut y = [0f32; 32];
    assert!(dequantize_row(Q8_0, &[0u8; 33], &mut y).is_err());
    assert!(dequantize_row(Q8_0, &[0u8; 35], &mut y).is_err());
    assert!(dequantize_row(Other(99), &[], &mut []).is_err());
    let t = quantize_tensor(Q8_0, &data(128, 2), 64).unwrap();
    assert_eq!(t.len(), 2 * 2 * 34);
    assert!(quantize_tensor(Q8_0, &data(100, 2), 64).is_err());
}
