//! Converting f32 activation rows into the format a weight type's dot product takes, exactly as
//! ggml's x86 build does (`quantize_row_q8_0`/`q8_1` AVX2 paths, `quantize_row_q8_K_ref`,
//! `GGML_FP32_TO_FP16`, `GGML_FP32_TO_BF16`).

use super::types::{AType, QK, QK_K, f32_to_bf16_bits, q8_kt_pos};
use crate::EngineError;
use half::f16;

/// Rows of activations converted to one [`AType`], stored back to back.
#[derive(Debug, Clone)]
pub struct ActRows {
    ty: AType,
    k: usize,
    row_bytes: usize,
    rows: usize,
    data: Vec<u8>,
}

impl ActRows {
    /// An empty buffer for rows of `k` elements in format `ty`.
    pub fn new(ty: AType, k: usize) -> Result<ActRows, EngineError> {
        Ok(ActRows {
            ty,
            k,
            row_bytes: ty.row_bytes(k)?,
            rows: 0,
            data: Vec::new(),
        })
    }

    /// Converts `x` (`rows × k` values, row-major), replacing the contents. Reuses the allocation.
    pub fn quantize(&mut self, x: &[f32]) -> Result<(), EngineError> {
        if !x.len().is_multiple_of(self.k) {
            return Err(EngineError::Kernel(format!(
                "activation of {} values is not a whole number of rows of {}",
                x.len(),
                self.k
            )));
        }
        self.rows = x.len() / self.k;
        self.data.clear();
        self.data.resize(self.rows * self.row_bytes, 0);
        let (ty, k, rb) = (self.ty, self.k, self.row_bytes);
        if self.rows > 1 && x.len() >= PAR_MIN_VALUES {
            // Rows are independent: quantise them over the current rayon pool.
            use rayon::prelude::*;
            x.par_chunks(k)
                .zip(self.data.par_chunks_mut(rb))
                .for_each(|(src, dst)| quantize_row(ty, src, dst));
        } else {
            for (src, dst) in x.chunks_exact(k).zip(self.data.chunks_exact_mut(rb)) {
                quantize_row(ty, src, dst);
            }
        }
        Ok(())
    }

    pub fn ty(&self) -> AType {
        self.ty
    }
    pub fn k(&self) -> usize {
        self.k
    }
    pub fn rows(&self) -> usize {
        self.rows
    }
    pub fn row_bytes(&self) -> usize {
        self.row_bytes
    }
    /// All rows' bytes.
    pub fn data(&self) -> &[u8] {
        &self.data
    }
    /// The bytes of rows `rows` (empty if out of range).
    pub fn rows_bytes(&self, rows: std::ops::Range<usize>) -> &[u8] {
        self.data
            .get(rows.start * self.row_bytes..rows.end * self.row_bytes)
            .unwrap_or_default()
    }
    /// Row `i`'s bytes (empty if out of range).
    pub fn row(&self, i: usize) -> &[u8] {
        self.data
            .get(i * self.row_bytes..(i + 1) * self.row_bytes)
            .unwrap_or_default()
    }
}

/// Below this many values a batch is quantised on the calling thread.
const PAR_MIN_VALUES: usize = 16 * 1024;

/// `x.round_ties_even()` without a libm call (baseline x86-64 has no rounding instruction):
/// for `|x| < 2^22`, adding and subtracting `1.5·2^23` rounds to the nearest integer with
/// ties to even, as `round_ties_even` does (up to the sign of a zero result, which the
/// callers' conversion to an integer drops).
#[inline(always)]
fn round_ne(x: f32) -> f32 {
    const MAGIC: f32 = 12_582_912.0;
    if x.abs() < 4_194_304.0 {
        (x + MAGIC) - MAGIC
    } else {
        x.round_ties_even()
    }
}

/// Converts one row. `dst` must be `ty.row_bytes(src.len())` long (checked by [`ActRows`]).
/// Q8_0, Q8_1, Q8_K and Q8_KT rows take the AVX-512 quantizer where the CPU has it, byte for byte
/// [`quantize_row_reference`].
pub fn quantize_row(ty: AType, src: &[f32], dst: &mut [u8]) {
    #[cfg(target_arch = "x86_64")]
    if let Some(level) = super::x86::X86Level::detect() {
        use super::x86::quantize::{q8_row, q8k_row};
        let done = match ty {
            AType::Q8_0 | AType::Q8_1 => q8_row(level, src, dst, ty == AType::Q8_1, q8_block),
            AType::Q8_K | AType::Q8_KT => q8k_row(level, src, dst, ty == AType::Q8_KT, q8k_any),
            _ => false,
        };
        if done {
            return;
        }
    }
    quantize_row_reference(ty, src, dst);
}

/// The scalar quantizer of every activation type (the reference for the SIMD forms).
pub fn quantize_row_reference(ty: AType, src: &[f32], dst: &mut [u8]) {
    match ty {
        AType::F32 => {
            for (v, d) in src.iter().zip(dst.chunks_exact_mut(4)) {
                d.copy_from_slice(&v.to_le_bytes());
            }
        }
        AType::F16 => {
            for (v, d) in src.iter().zip(dst.chunks_exact_mut(2)) {
                d.copy_from_slice(&f16::from_f32(*v).to_le_bytes());
            }
        }
        AType::BF16 => {
            for (v, d) in src.iter().zip(dst.chunks_exact_mut(2)) {
                d.copy_from_slice(&f32_to_bf16_bits(*v).to_le_bytes());
            }
        }
        AType::Q8_0 => {
            for (x, b) in src.chunks_exact(QK).zip(dst.chunks_exact_mut(34)) {
                q8_block(x, b, false);
            }
        }
        AType::Q8_1 => {
            for (x, b) in src.chunks_exact(QK).zip(dst.chunks_exact_mut(36)) {
                q8_block(x, b, true);
            }
        }
        AType::Q8_K => {
            for (x, b) in src.chunks_exact(QK_K).zip(dst.chunks_exact_mut(292)) {
                q8k_block(x, b);
            }
        }
        AType::Q8_KT => {
            for (x, b) in src.chunks_exact(QK_K).zip(dst.chunks_exact_mut(292)) {
                q8k_any(x, b, true);
            }
        }
    }
}

/// One Q8_0 (`d`, 32 × i8) or Q8_1 (`d`, `s`, 32 × i8) block, as ggml's AVX2 quantizer:
/// `id = 127 / amax`, round half to even, `s = d · Σq` with the unrounded `d`.
fn q8_block(x: &[f32], b: &mut [u8], with_sum: bool) {
    let amax = x.iter().fold(0.0f32, |m, v| m.max(v.abs()));
    let d = amax / 127.0;
    let id = if amax != 0.0 { 127.0 / amax } else { 0.0 };
    let qs_at = if with_sum { 4 } else { 2 };
    let mut sum = 0i32;
    for (v, q) in x.iter().zip(b.iter_mut().skip(qs_at)) {
        let r = round_ne(v * id) as i32;
        sum += r;
        *q = r as i8 as u8;
    }
    b[0..2].copy_from_slice(&f16::from_f32(d).to_le_bytes());
    if with_sum {
        b[2..4].copy_from_slice(&f16::from_f32(d * sum as f32).to_le_bytes());
    }
}

/// One Q8_K block, or with `transposed` one Q8_KT block (the quants in [`q8_kt_pos`] order).
fn q8k_any(x: &[f32], b: &mut [u8], transposed: bool) {
    q8k_block(x, b);
    if transposed {
        let mut q = [0u8; QK_K];
        q.copy_from_slice(&b[4..4 + QK_K]);
        for (e, &v) in q.iter().enumerate() {
            b[4 + q8_kt_pos(e)] = v;
        }
    }
}

/// One Q8_K block (f32 `d`, 256 × i8, 16 × i16 sums of 16), as `quantize_row_q8_K_ref`.
fn q8k_block(x: &[f32], b: &mut [u8]) {
    let mut amax = 0.0f32;
    let mut max = 0.0f32;
    for &v in x {
        if v.abs() > amax {
            amax = v.abs();
            max = v;
        }
    }
    b.fill(0);
    if amax == 0.0 {
        return;
    }
    let iscale = -127.0 / max;
    for (v, q) in x.iter().zip(b[4..4 + QK_K].iter_mut()) {
        let r = (round_ne(iscale * v) as i32).min(127);
        *q = r as i8 as u8;
    }
    for j in 0..QK_K / 16 {
        let s: i32 = b[4 + j * 16..4 + (j + 1) * 16]
            .iter()
            .map(|&q| q as i8 as i32)
            .sum();
        let at = 4 + QK_K + 2 * j;
        b[at..at + 2].copy_from_slice(&(s as i16).to_le_bytes());
    }
    b[0..4].copy_from_slice(&(1.0 / iscale).to_le_bytes());
}

#[cfg(test)]
mod tests {
    use super::round_ne;

    #[test]
    fn fast_rounding_matches_round_ties_even() {
        let mut xs = vec![
            0.0f32,
            -0.0,
            0.5,
            1.5,
            2.5,
            -0.5,
            -1.5,
            -2.5,
            126.5,
            127.5,
            -127.5,
            0.49999997,
            4_194_303.5,
            -4_194_303.5,
            4_194_304.0,
            1e9,
            -1e9,
            8_388_609.0,
        ];
        let mut s = 0x9E37_79B9u32;
        for _ in 0..100_000 {
            s ^= s << 13;
            s ^= s >> 17;
            s ^= s << 5;
            xs.push((s as i32) as f32 / 1.0e7);
        }
        for x in xs {
            assert_eq!(round_ne(x) as i32, x.round_ties_even() as i32, "{x}");
            assert_eq!(round_ne(x).abs(), x.round_ties_even().abs(), "{x}");
        }
    }
}
