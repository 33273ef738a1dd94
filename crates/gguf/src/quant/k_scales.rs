//! The 6-bit scale/min packing of Q4_K and Q5_K: eight (scale, min) pairs in 12 bytes
//! (ggml's `get_scale_min_k4` layout).

/// Decodes pair `j` (0..8, taken modulo 8) from the 12 packed bytes.
pub fn unpack_scale_min_k4(j: usize, q: &[u8; 12]) -> (u8, u8) {
    let j = j & 7;
    if j < 4 {
        (q[j] & 63, q[j + 4] & 63)
    } else {
        let sc = (q[j + 4] & 0xF) | ((q[j - 4] >> 6) << 4);
        let m = (q[j + 4] >> 4) | ((q[j] >> 6) << 4);
        (sc, m)
    }
}

/// Packs eight 6-bit scales and mins (values above 63 are masked to 6 bits).
pub fn pack_scale_min_k4(scales: &[u8; 8], mins: &[u8; 8]) -> [u8; 12] {
    let mut q = [0u8; 12];
    for j in 0..4 {
        q[j] = scales[j] & 63;
        q[j + 4] = mins[j] & 63;
    }
    for j in 4..8 {
        let (ls, lm) = (scales[j] & 63, mins[j] & 63);
        q[j + 4] = (ls & 0xF) | ((lm & 0xF) << 4);
        q[j - 4] |= (ls >> 4) << 6;
        q[j] |= (lm >> 4) << 6;
    }
    q
}

/// Reads the 12 scale bytes of a K-block starting at `at`.
pub(super) fn scale_bytes(b: &[u8], at: usize) -> [u8; 12] {
    let mut q = [0u8; 12];
    if let Some(s) = b.get(at..at + 12) {
        q.copy_from_slice(s);
    }
    q
}

/// Quantizes eight float (scale, min) pairs to 6 bits against their maxima, as the K-quants
/// store them. Returns (d, dmin, 6-bit scales, 6-bit mins).
pub(super) fn quantize_scales(scales: &[f32; 8], mins: &[f32; 8]) -> (f32, f32, [u8; 8], [u8; 8]) {
    let max_scale = scales.iter().fold(0.0f32, |m, &v| m.max(v));
    let max_min = mins.iter().fold(0.0f32, |m, &v| m.max(v));
    let inv_scale = if max_scale > 0.0 {
        63.0 / max_scale
    } else {
        0.0
    };
    let inv_min = if max_min > 0.0 { 63.0 / max_min } else { 0.0 };
    let mut ls = [0u8; 8];
    let mut lm = [0u8; 8];
    for j in 0..8 {
        ls[j] = super::nearest_int(inv_scale * scales[j]).clamp(0, 63) as u8;
        lm[j] = super::nearest_int(inv_min * mins[j]).clamp(0, 63) as u8;
    }
    (max_scale / 63.0, max_min / 63.0, ls, lm)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pack_unpack_all_values() {
        for seed in 0..64u8 {
            let scales: [u8; 8] = std::array::from_fn(|j| (seed + 7 * j as u8) % 64);
            let mins: [u8; 8] = std::array::from_fn(|j| (63 - seed + 5 * j as u8) % 64);
            let q = pack_scale_min_k4(&scales, &mins);
            for j in 0..8 {
                assert_eq!(unpack_scale_min_k4(j, &q), (scales[j], mins[j]));
            }
        }
    }
}
