//! Scalar reference quantizers and dequantizers with ggml's exact block layouts
//! (the block structs of `ggml-common.h`).
//!
//! [`quantize_row`] appends the encoded row to a byte vector; [`dequantize_row`] decodes a row.
//! Rows must be a whole number of blocks. Quantizers for the legacy types (Q4_0 … Q8_0) and
//! Q8_K follow ggml's reference rounding; the K-quant quantizers use their own per-sub-block
//! scale/min search (any encoder is valid as long as the bytes follow the layout), while the
//! K-quant dequantizers decode blocks produced by llama.cpp exactly.

mod float;
mod k_fit;
mod k_scales;
mod q4;
mod q4k;
mod q5;
mod q5k;
mod q6k;
mod q8;

use crate::{GgmlType, GgufError};

pub use k_scales::{pack_scale_min_k4, unpack_scale_min_k4};

/// Whether [`quantize_row`] and [`dequantize_row`] handle this type.
pub fn is_supported(ty: GgmlType) -> bool {
    use GgmlType::*;
    matches!(
        ty,
        F32 | F16 | BF16 | Q8_0 | Q4_0 | Q4_1 | Q5_0 | Q5_1 | Q4_K | Q5_K | Q6_K | Q8_K
    )
}

fn check_supported(ty: GgmlType) -> Result<(), GgufError> {
    if is_supported(ty) {
        Ok(())
    } else {
        Err(GgufError::ty(
            ty,
            "quantization is not supported for this type",
        ))
    }
}

/// Encodes `src` as `ty` and appends the bytes to `dst`. `src.len()` must be a multiple of the
/// type's block size.
pub fn quantize_row(ty: GgmlType, src: &[f32], dst: &mut Vec<u8>) -> Result<(), GgufError> {
    check_supported(ty)?;
    let n_bytes = ty.row_bytes(src.len())?;
    let start = dst.len();
    dst.resize(start + n_bytes, 0);
    let out = dst.get_mut(start..).unwrap_or_default();
    use GgmlType::*;
    match ty {
        F32 => float::quantize_f32(src, out),
        F16 => float::quantize_f16(src, out),
        BF16 => float::quantize_bf16(src, out),
        Q8_0 => q8::quantize_q8_0(src, out),
        Q8_K => q8::quantize_q8_k(src, out),
        Q4_0 => q4::quantize_q4_0(src, out),
        Q4_1 => q4::quantize_q4_1(src, out),
        Q5_0 => q5::quantize_q5_0(src, out),
        Q5_1 => q5::quantize_q5_1(src, out),
        Q4_K => q4k::quantize(src, out),
        Q5_K => q5k::quantize(src, out),
        Q6_K => q6k::quantize(src, out),
        _ => {
            return Err(GgufError::ty(
                ty,
                "quantization is not supported for this type",
            ));
        }
    }
    Ok(())
}

/// Decodes a row of `ty` from `src` into `dst`. `src` must hold exactly the bytes of
/// `dst.len()` elements.
pub fn dequantize_row(ty: GgmlType, src: &[u8], dst: &mut [f32]) -> Result<(), GgufError> {
    check_supported(ty)?;
    let n_bytes = ty.row_bytes(dst.len())?;
    if src.len() != n_bytes {
        return Err(GgufError::ty(
            ty,
            format!(
                "{} bytes given for a row of {} elements, which takes {n_bytes}",
                src.len(),
                dst.len()
            ),
        ));
    }
    use GgmlType::*;
    match ty {
        F32 => float::dequantize_f32(src, dst),
        F16 => float::dequantize_f16(src, dst),
        BF16 => float::dequantize_bf16(src, dst),
        Q8_0 => q8::dequantize_q8_0(src, dst),
        Q8_K => q8::dequantize_q8_k(src, dst),
        Q4_0 => q4::dequantize_q4_0(src, dst),
        Q4_1 => q4::dequantize_q4_1(src, dst),
        Q5_0 => q5::dequantize_q5_0(src, dst),
        Q5_1 => q5::dequantize_q5_1(src, dst),
        Q4_K => q4k::dequantize(src, dst),
        Q5_K => q5k::dequantize(src, dst),
        Q6_K => q6k::dequantize(src, dst),
        _ => {
            return Err(GgufError::ty(
                ty,
                "dequantization is not supported for this type",
            ));
        }
    }
    Ok(())
}

/// Quantizes a whole tensor given as rows of `row_len` values.
pub fn quantize_tensor(ty: GgmlType, values: &[f32], row_len: usize) -> Result<Vec<u8>, GgufError> {
    if row_len == 0 || !values.len().is_multiple_of(row_len) {
        return Err(GgufError::ty(
            ty,
            format!("{} values are not whole rows of {row_len}", values.len()),
        ));
    }
    let n_rows = values.len() / row_len;
    let total = ty
        .row_bytes(row_len)?
        .checked_mul(n_rows)
        .ok_or_else(|| GgufError::ty(ty, "tensor size overflows"))?;
    let mut out = Vec::with_capacity(total);
    for row in values.chunks_exact(row_len) {
        quantize_row(ty, row, &mut out)?;
    }
    Ok(out)
}

/// IEEE half from two little-endian bytes.
pub(crate) fn f16_at(b: &[u8], i: usize) -> f32 {
    match b.get(i..i + 2) {
        Some(&[lo, hi]) => half::f16::from_le_bytes([lo, hi]).to_f32(),
        _ => 0.0,
    }
}

/// Rounds to half and writes it little-endian (ggml's FP32→FP16, round to nearest even).
pub(crate) fn put_f16(b: &mut [u8], i: usize, v: f32) {
    if let Some(s) = b.get_mut(i..i + 2) {
        s.copy_from_slice(&half::f16::from_f32(v).to_le_bytes());
    }
}

/// `v` rounded to half and back, as ggml sees a stored scale.
pub(crate) fn via_f16(v: f32) -> f32 {
    half::f16::from_f32(v).to_f32()
}

/// ggml's `nearest_int`: round half to even.
pub(crate) fn nearest_int(v: f32) -> i32 {
    v.round_ties_even() as i32
}

/// Index of the element with the largest magnitude, and that element (0 for an empty slice).
pub(crate) fn signed_absmax(x: &[f32]) -> f32 {
    let mut amax = 0.0f32;
    let mut max = 0.0f32;
    for &v in x {
        if v.abs() > amax {
            amax = v.abs();
            max = v;
        }
    }
    max
}

#[cfg(test)]
mod tests;
