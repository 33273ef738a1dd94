//! F32, F16 and BF16 rows.

pub(super) fn quantize_f32(src: &[f32], out: &mut [u8]) {
    for (v, o) in src.iter().zip(out.chunks_exact_mut(4)) {
        o.copy_from_slice(&v.to_le_bytes());
    }
}

pub(super) fn dequantize_f32(src: &[u8], dst: &mut [f32]) {
    for (b, d) in src.chunks_exact(4).zip(dst.iter_mut()) {
        *d = f32::from_le_bytes([b[0], b[1], b[2], b[3]]);
    }
}

pub(super) fn quantize_f16(src: &[f32], out: &mut [u8]) {
    for (v, o) in src.iter().zip(out.chunks_exact_mut(2)) {
        o.copy_from_slice(&half::f16::from_f32(*v).to_le_bytes());
    }
}

pub(super) fn dequantize_f16(src: &[u8], dst: &mut [f32]) {
    for (b, d) in src.chunks_exact(2).zip(dst.iter_mut()) {
        *d = half::f16::from_le_bytes([b[0], b[1]]).to_f32();
    }
}

/// ggml's FP32→BF16: round to nearest even; NaN stays NaN (quiet bit forced).
pub(crate) fn f32_to_bf16_bits(v: f32) -> u16 {
    let u = v.to_bits();
    if (u & 0x7fff_ffff) > 0x7f80_0000 {
        return ((u >> 16) | 64) as u16;
    }
    (u.wrapping_add(0x7fff + ((u >> 16) & 1)) >> 16) as u16
}

pub(super) fn quantize_bf16(src: &[f32], out: &mut [u8]) {
    for (v, o) in src.iter().zip(out.chunks_exact_mut(2)) {
        o.copy_from_slice(&f32_to_bf16_bits(*v).to_le_bytes());
    }
}

pub(super) fn dequantize_bf16(src: &[u8], dst: &mut [f32]) {
    for (b, d) in src.chunks_exact(2).zip(dst.iter_mut()) {
        *d = f32::from_bits(u32::from(u16::from_le_bytes([b[0], b[1]])) << 16);
    }
}
