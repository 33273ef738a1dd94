//! The weight and activation formats the kernels compute with, and their ggml block layouts.

use crate::EngineError;
use switchyard_gguf::GgmlType;

/// Elements per K-quant super-block.
pub const QK_K: usize = 256;
/// Elements per block of the 32-element quant types.
pub const QK: usize = 32;

/// A weight matrix element type the kernels support.
#[allow(non_camel_case_types)]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum WType {
    F32,
    F16,
    BF16,
    Q8_0,
    Q4_0,
    Q4_1,
    Q5_0,
    Q5_1,
    Q4_K,
    Q5_K,
    Q6_K,
}

/// The format an activation row is converted to before a dot product with a weight row, as
/// ggml's `vec_dot_type`: the activation is quantised the way ggml does so that the integer
/// arithmetic, and hence the result, matches llama.cpp.
#[allow(non_camel_case_types)]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AType {
    F32,
    F16,
    BF16,
    Q8_0,
    Q8_1,
    Q8_K,
    /// Q8_K with each super-block's 256 quants stored in 16-byte pieces transposed: piece
    /// `k` of pair `j` (elements `64j + 16k ..`) at byte `64k + 16j` of the quants. The values,
    /// `d` and block sums are those of Q8_K; the order lets the Q4_K kernels keep each pair of
    /// sub-blocks in its own 128-bit lane (see [`q8_kt_pos`]).
    Q8_KT,
}

/// Where element `e` (0..256) of a super-block sits among the quants of [`AType::Q8_KT`].
#[inline(always)]
pub fn q8_kt_pos(e: usize) -> usize {
    let (j, k, b) = (e / 64, (e % 64) / 16, e % 16);
    64 * k + 16 * j + b
}

impl WType {
    pub const ALL: [WType; 11] = [
        WType::F32,
        WType::F16,
        WType::BF16,
        WType::Q8_0,
        WType::Q4_0,
        WType::Q4_1,
        WType::Q5_0,
        WType::Q5_1,
        WType::Q4_K,
        WType::Q5_K,
        WType::Q6_K,
    ];

    /// (elements per block, bytes per block).
    pub fn layout(self) -> (usize, usize) {
        match self {
            WType::F32 => (1, 4),
            WType::F16 | WType::BF16 => (1, 2),
            WType::Q8_0 => (QK, 34),
            WType::Q4_0 => (QK, 18),
            WType::Q4_1 => (QK, 20),
            WType::Q5_0 => (QK, 22),
            WType::Q5_1 => (QK, 24),
            WType::Q4_K => (QK_K, 144),
            WType::Q5_K => (QK_K, 176),
            WType::Q6_K => (QK_K, 210),
        }
    }

    /// The activation format ggml pairs with this weight type.
    pub fn act_type(self) -> AType {
        match self {
            WType::F32 => AType::F32,
            WType::F16 => AType::F16,
            WType::BF16 => AType::BF16,
            WType::Q8_0 | WType::Q4_0 | WType::Q5_0 => AType::Q8_0,
            WType::Q4_1 | WType::Q5_1 => AType::Q8_1,
            WType::Q4_K => AType::Q8_KT,
            WType::Q5_K | WType::Q6_K => AType::Q8_K,
        }
    }

    /// Whether a single activation row (decode) is multiplied 4 weight rows at a time. Chosen
    /// by measurement (`examples/kernel_bench`): the nibble types' kernels are compute-bound
    /// on one row and gain from sharing work across rows; Q8_0 and Q6_K are memory-bound
    /// one row at a time and lose the hardware prefetcher's help with interleaved rows.
    pub fn decode_tiles(self) -> bool {
        matches!(
            self,
            WType::Q4_0 | WType::Q4_1 | WType::Q5_0 | WType::Q5_1 | WType::Q4_K | WType::Q5_K
        )
    }

    /// Bytes in a row of `k` elements; `Err` unless `k` is a positive multiple of the block size.
    pub fn row_bytes(self, k: usize) -> Result<usize, EngineError> {
        row_bytes(self.layout(), k, || format!("{self:?}"))
    }

    pub fn ggml(self) -> GgmlType {
        match self {
            WType::F32 => GgmlType::F32,
            WType::F16 => GgmlType::F16,
            WType::BF16 => GgmlType::BF16,
            WType::Q8_0 => GgmlType::Q8_0,
            WType::Q4_0 => GgmlType::Q4_0,
            WType::Q4_1 => GgmlType::Q4_1,
            WType::Q5_0 => GgmlType::Q5_0,
            WType::Q5_1 => GgmlType::Q5_1,
            WType::Q4_K => GgmlType::Q4_K,
            WType::Q5_K => GgmlType::Q5_K,
            WType::Q6_K => GgmlType::Q6_K,
        }
    }
}

impl TryFrom<GgmlType> for WType {
    type Error = EngineError;

    fn try_from(t: GgmlType) -> Result<Self, Self::Error> {
        Ok(match t {
            GgmlType::F32 => WType::F32,
            GgmlType::F16 => WType::F16,
            GgmlType::BF16 => WType::BF16,
            GgmlType::Q8_0 => WType::Q8_0,
            GgmlType::Q4_0 => WType::Q4_0,
            GgmlType::Q4_1 => WType::Q4_1,
            GgmlType::Q5_0 => WType::Q5_0,
            GgmlType::Q5_1 => WType::Q5_1,
            GgmlType::Q4_K => WType::Q4_K,
            GgmlType::Q5_K => WType::Q5_K,
            GgmlType::Q6_K => WType::Q6_K,
            other => {
                return Err(EngineError::Kernel(format!(
                    "weight type {other} is not supported (supported: f32, f16, bf16, q8_0, q4_0, q4_1, q5_0, q5_1, q4_K, q5_K, q6_K)"
                )));
            }
        })
    }
}

impl AType {
    /// (elements per block, bytes per block), ggml layouts.
    pub fn layout(self) -> (usize, usize) {
        match self {
            AType::F32 => (1, 4),
            AType::F16 | AType::BF16 => (1, 2),
            AType::Q8_0 => (QK, 34),
            AType::Q8_1 => (QK, 36),
            AType::Q8_K | AType::Q8_KT => (QK_K, 292),
        }
    }

    pub fn row_bytes(self, k: usize) -> Result<usize, EngineError> {
        row_bytes(self.layout(), k, || format!("{self:?}"))
    }
}

fn row_bytes(
    (bs, ts): (usize, usize),
    k: usize,
    name: impl Fn() -> String,
) -> Result<usize, EngineError> {
    if k == 0 || !k.is_multiple_of(bs) {
        return Err(EngineError::Kernel(format!(
            "{}: row length {k} is not a positive multiple of the block size {bs}",
            name()
        )));
    }
    (k / bs)
        .checked_mul(ts)
        .ok_or_else(|| EngineError::Kernel(format!("{}: row length {k} overflows", name())))
}

/// Reads a little-endian f16 at the start of `b` as f32 (0 if `b` is short; callers pass whole blocks).
#[inline(always)]
pub(crate) fn f16_at(b: &[u8], at: usize) -> f32 {
    match b.get(at..at + 2) {
        Some(&[lo, hi]) => half::f16::from_le_bytes([lo, hi]).to_f32(),
        _ => 0.0,
    }
}

/// Reads a little-endian f32 at byte `at` (0 if out of range; callers pass whole blocks).
#[inline(always)]
pub(crate) fn f32_at(b: &[u8], at: usize) -> f32 {
    match b.get(at..at + 4) {
        Some(&[a, b2, c, d]) => f32::from_le_bytes([a, b2, c, d]),
        _ => 0.0,
    }
}

/// f32 → bf16 bits as ggml's `GGML_FP32_TO_BF16` (round to nearest even, NaN kept quiet).
#[inline(always)]
pub(crate) fn f32_to_bf16_bits(x: f32) -> u16 {
    let u = x.to_bits();
    if (u & 0x7fff_ffff) > 0x7f80_0000 {
        return ((u >> 16) | 64) as u16;
    }
    (u.wrapping_add(0x7fff + ((u >> 16) & 1)) >> 16) as u16
}

#[inline(always)]
pub(crate) fn bf16_bits_to_f32(b: u16) -> f32 {
    f32::from_bits((b as u32) << 16)
}
