//! x86-64 SIMD kernels (AVX2+FMA+F16C, and the same kernels with AVX-512 VNNI integer dot
//! products). Every function here has a scalar counterpart in `kernels::reference`, and the
//! tests compare the two.
//!
//! The kernels are written once, generic over [`IntDot`] (how u8×i8 and i16×i16 products are
//! summed into i32 lanes) and over `R`, the number of activation rows that share each decoded
//! weight block. For any `R` every activation row goes through exactly the same sequence of
//! operations, so a result never depends on how rows were batched.
#![allow(unsafe_code)]

pub mod act;
mod float;
mod quant;
mod quant512;
pub mod quantize;
pub mod vec;

use super::Strides;
use super::types::WType;
use std::arch::x86_64::*;

/// Which x86 kernel set the CPU can run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum X86Level {
    /// AVX2 + FMA + F16C.
    Avx2,
    /// The above plus AVX-512 F/BW/VL and VNNI.
    Avx512Vnni,
}

impl X86Level {
    /// The best level this CPU supports, if any (detected once, then cached: kernels check
    /// it on every call).
    pub fn detect() -> Option<X86Level> {
        static LEVEL: std::sync::OnceLock<Option<X86Level>> = std::sync::OnceLock::new();
        *LEVEL.get_or_init(X86Level::detect_uncached)
    }

    fn detect_uncached() -> Option<X86Level> {
        let avx2 = is_x86_feature_detected!("avx2")
            && is_x86_feature_detected!("fma")
            && is_x86_feature_detected!("f16c");
        let vnni = is_x86_feature_detected!("avx512f")
            && is_x86_feature_detected!("avx512bw")
            && is_x86_feature_detected!("avx512vl")
            && is_x86_feature_detected!("avx512vnni");
        match (avx2, vnni) {
            (true, true) => Some(X86Level::Avx512Vnni),
            (true, false) => Some(X86Level::Avx2),
            _ => None,
        }
    }

    /// Whether this CPU supports `self` (so a level can be forced in tests).
    pub fn supported(self) -> bool {
        matches!(
            (X86Level::detect(), self),
            (Some(X86Level::Avx512Vnni), _) | (Some(X86Level::Avx2), X86Level::Avx2)
        )
    }
}

/// Dot products of the weight row `w` (type `wt`) with each of `acts` (1 to 4 rows in
/// `wt.act_type()` format, `k` elements each), written to `out[..acts.len()]`.
///
/// Returns `false` (and computes nothing) when the lengths do not describe whole rows of `k`
/// elements, when more than 4 rows are given, or when the CPU lacks `level`.
pub fn dot_rows(
    level: X86Level,
    wt: WType,
    k: usize,
    w: &[u8],
    acts: &[&[u8]],
    out: &mut [f32],
) -> bool {
    let (Ok(wb), Ok(ab)) = (wt.row_bytes(k), wt.act_type().row_bytes(k)) else {
        return false;
    };
    if w.len() != wb
        || acts.iter().any(|a| a.len() != ab)
        || out.len() < acts.len()
        || !level.supported()
    {
        return false;
    }
    macro_rules! go {
        ($r:literal) => {{
            let a: [&[u8]; $r] = match acts.try_into() {
                Ok(a) => a,
                Err(_) => return false,
            };
            // SAFETY: `w` holds exactly one row of `k` elements of `wt` and every activation
            // row one row of `k` elements of `wt.act_type()` (checked above), which is all
            // the kernels read; the CPU supports `level` (checked above).
            let r: [f32; $r] = unsafe {
                match level {
                    X86Level::Avx2 => avx2::dot::<$r>(wt, k, w, a),
                    X86Level::Avx512Vnni => vnni::dot::<$r>(wt, k, w, a),
                }
            };
            out[..$r].copy_from_slice(&r);
        }};
    }
    match acts.len() {
        1 => go!(1),
        2 => go!(2),
        3 => go!(3),
        4 => go!(4),
        _ => return false,
    }
    true
}

/// Dot products of 1 or 4 weight rows `ws` (type `wt`) with 1 to 4 activation rows `acts`,
/// `out[i·acts.len() + r]` = `ws[i]` · `acts[r]`, each computed exactly as [`dot_rows`] does.
///
/// Returns `false` (and computes nothing) on lengths that are not whole rows of `k` elements,
/// unsupported row counts, or a CPU without `level`.
pub fn dot_tile(
    level: X86Level,
    wt: WType,
    k: usize,
    ws: &[&[u8]],
    acts: &[&[u8]],
    out: &mut [f32],
) -> bool {
    let (Ok(wb), Ok(ab)) = (wt.row_bytes(k), wt.act_type().row_bytes(k)) else {
        return false;
    };
    if ws.iter().any(|w| w.len() != wb)
        || acts.iter().any(|a| a.len() != ab)
        || out.len() < ws.len() * acts.len()
        || !level.supported()
    {
        return false;
    }
    macro_rules! go {
        ($w:literal, $r:literal) => {{
            let (Ok(wr), Ok(ar)) = (<[&[u8]; $w]>::try_from(ws), <[&[u8]; $r]>::try_from(acts))
            else {
                return false;
            };
            // SAFETY: every weight row holds exactly one row of `k` elements of `wt` and
            // every activation row one row of `k` elements of `wt.act_type()` (checked
            // above), which is all the kernels read; the CPU supports `level` (checked above).
            let res: [[f32; $r]; $w] = unsafe {
                match level {
                    X86Level::Avx2 => avx2::tile::<$w, $r>(wt, k, wr, ar),
                    X86Level::Avx512Vnni => vnni::tile::<$w, $r>(wt, k, wr, ar),
                }
            };
            for (o, v) in out.iter_mut().zip(res.iter().flatten()) {
                *o = *v;
            }
        }};
    }
    match (ws.len(), acts.len()) {
        (1, 1) => go!(1, 1),
        (1, 2) => go!(1, 2),
        (1, 3) => go!(1, 3),
        (1, 4) => go!(1, 4),
        (4, 1) => go!(4, 1),
        (4, 2) => go!(4, 2),
        (4, 3) => go!(4, 3),
        (4, 4) => go!(4, 4),
        _ => return false,
    }
    true
}

/// Dot products of every weight row in `w` (whole rows of `k` elements of `wt`) with every
/// activation row in `a` (whole rows of `wt.act_type()`), in tiles of 4 × up to 4 (1 × up to 4
/// for the last rows, and for every row of a single activation row unless
/// [`WType::decode_tiles`]), each element computed exactly as [`dot_rows`] does. The lengths are
/// checked once for the whole block.
///
/// Returns `false` (and computes nothing) when the lengths are not whole rows, `out` is too
/// short for the strides, or the CPU lacks `level`.
pub fn dot_block(
    level: X86Level,
    wt: WType,
    k: usize,
    w: &[u8],
    a: &[u8],
    out: &mut [f32],
    st: Strides,
) -> bool {
    let (Ok(wb), Ok(ab)) = (wt.row_bytes(k), wt.act_type().row_bytes(k)) else {
        return false;
    };
    if wb == 0 || ab == 0 || !w.len().is_multiple_of(wb) || !a.len().is_multiple_of(ab) {
        return false;
    }
    let (nw, na) = (w.len() / wb, a.len() / ab);
    if nw == 0 || na == 0 {
        return true;
    }
    let last = (nw - 1)
        .checked_mul(st.w_stride)
        .and_then(|x| (na - 1).checked_mul(st.a_stride)?.checked_add(x));
    if last.is_none_or(|l| l >= out.len()) || !level.supported() {
        return false;
    }
    // SAFETY: `w` and `a` hold whole rows (checked above), every output index is below
    // `out.len()` (checked above: the largest is `last`); the CPU supports `level`.
    unsafe {
        match level {
            X86Level::Avx2 => avx2::block(wt, k, wb, ab, w, a, out, st),
            X86Level::Avx512Vnni => vnni::block(wt, k, wb, ab, w, a, out, st),
        }
    }
    true
}

/// How 8-bit and 16-bit products are summed into i32 lanes.
pub(super) trait IntDot {
    /// `acc + Σ(4 adjacent u[i]·s[i])` per i32 lane (u unsigned, s signed bytes). Callers keep
    /// each pair of adjacent products within i16 range, so the AVX2 form never saturates.
    unsafe fn dpbusd(acc: __m256i, u: __m256i, s: __m256i) -> __m256i;
    /// `acc + Σ(2 adjacent a[i]·b[i])` per i32 lane, 16-bit inputs.
    unsafe fn dpwssd(acc: __m256i, a: __m256i, b: __m256i) -> __m256i;
    /// `W` weight rows × `R` activation rows of a 32-element block type.
    unsafe fn tile32<B: quant::Block32, const W: usize, const R: usize>(
        w: [&[u8]; W],
        a: [&[u8]; R],
    ) -> [[f32; R]; W];
    /// `W` weight rows × `R` activation rows of Q6_K.
    unsafe fn tile_q6_k<const W: usize, const R: usize>(
        w: [&[u8]; W],
        a: [&[u8]; R],
    ) -> [[f32; R]; W];
    /// `W` weight rows × `R` activation rows of Q4_K.
    unsafe fn tile_q4_k<const W: usize, const R: usize>(
        w: [&[u8]; W],
        a: [&[u8]; R],
    ) -> [[f32; R]; W];
    /// `W` weight rows × `R` activation rows of Q5_K.
    unsafe fn tile_q5_k<const W: usize, const R: usize>(
        w: [&[u8]; W],
        a: [&[u8]; R],
    ) -> [[f32; R]; W];
}

/// AVX2: `vpmaddubsw` + `vpmaddwd` + `vpaddd`.
pub(super) struct Avx2Dot;
/// AVX-512 VNNI (256-bit forms): `vpdpbusd` / `vpdpwssd`.
pub(super) struct VnniDot;

impl IntDot for Avx2Dot {
    #[inline(always)]
    unsafe fn dpbusd(acc: __m256i, u: __m256i, s: __m256i) -> __m256i {
        // SAFETY: only called from functions compiled with AVX2 enabled.
        unsafe {
            let p16 = _mm256_maddubs_epi16(u, s);
            _mm256_add_epi32(acc, _mm256_madd_epi16(p16, _mm256_set1_epi16(1)))
        }
    }
    #[inline(always)]
    unsafe fn dpwssd(acc: __m256i, a: __m256i, b: __m256i) -> __m256i {
        // SAFETY: only called from functions compiled with AVX2 enabled.
        unsafe { _mm256_add_epi32(acc, _mm256_madd_epi16(a, b)) }
    }
    #[inline(always)]
    unsafe fn tile32<B: quant::Block32, const W: usize, const R: usize>(
        w: [&[u8]; W],
        a: [&[u8]; R],
    ) -> [[f32; R]; W] {
        // SAFETY: forwarded contract (whole rows; AVX2/FMA/F16C enabled).
        unsafe {
            let mut out = [[0.0f32; R]; W];
            for i in 0..W {
                out[i] = quant::blocks32::<B, Avx2Dot, R>(w[i], a);
            }
            out
        }
    }
    #[inline(always)]
    unsafe fn tile_q4_k<const W: usize, const R: usize>(
        w: [&[u8]; W],
        a: [&[u8]; R],
    ) -> [[f32; R]; W] {
        // SAFETY: forwarded contract (whole rows; AVX2/FMA/F16C enabled).
        unsafe {
            let mut out = [[0.0f32; R]; W];
            for i in 0..W {
                out[i] = quant::q4_k::<Avx2Dot, R>(w[i], a);
            }
            out
        }
    }
    #[inline(always)]
    unsafe fn tile_q5_k<const W: usize, const R: usize>(
        w: [&[u8]; W],
        a: [&[u8]; R],
    ) -> [[f32; R]; W] {
        // SAFETY: forwarded contract (whole rows; AVX2/FMA/F16C enabled).
        unsafe {
            let mut out = [[0.0f32; R]; W];
            for i in 0..W {
                out[i] = quant::q5_k::<Avx2Dot, R>(w[i], a);
            }
            out
        }
    }
    #[inline(always)]
    unsafe fn tile_q6_k<const W: usize, const R: usize>(
        w: [&[u8]; W],
        a: [&[u8]; R],
    ) -> [[f32; R]; W] {
        // SAFETY: forwarded contract (whole rows; AVX2/FMA/F16C enabled).
        unsafe {
            let mut out = [[0.0f32; R]; W];
            for i in 0..W {
                out[i] = quant::q6_k::<Avx2Dot, R>(w[i], a);
            }
            out
        }
    }
}

impl IntDot for VnniDot {
    #[inline(always)]
    unsafe fn dpbusd(acc: __m256i, u: __m256i, s: __m256i) -> __m256i {
        // SAFETY: only called from functions compiled with AVX-512 VNNI and VL enabled.
        unsafe { _mm256_dpbusd_epi32(acc, u, s) }
    }
    #[inline(always)]
    unsafe fn dpwssd(acc: __m256i, a: __m256i, b: __m256i) -> __m256i {
        // SAFETY: only called from functions compiled with AVX-512 VNNI and VL enabled.
        unsafe { _mm256_dpwssd_epi32(acc, a, b) }
    }
    #[inline(always)]
    unsafe fn tile32<B: quant::Block32, const W: usize, const R: usize>(
        w: [&[u8]; W],
        a: [&[u8]; R],
    ) -> [[f32; R]; W] {
        // SAFETY: forwarded contract (whole rows; AVX-512 F/BW/VL/VNNI enabled).
        unsafe { quant512::tile32::<B, W, R>(w, a) }
    }
    #[inline(always)]
    unsafe fn tile_q4_k<const W: usize, const R: usize>(
        w: [&[u8]; W],
        a: [&[u8]; R],
    ) -> [[f32; R]; W] {
        // SAFETY: forwarded contract (whole rows; AVX-512 F/BW/VL/VNNI enabled).
        unsafe { quant512::tile_q4_k::<W, R>(w, a) }
    }
    #[inline(always)]
    unsafe fn tile_q5_k<const W: usize, const R: usize>(
        w: [&[u8]; W],
        a: [&[u8]; R],
    ) -> [[f32; R]; W] {
        // SAFETY: forwarded contract (whole rows; AVX-512 F/BW/VL/VNNI enabled).
        unsafe { quant512::tile_q5_k::<W, R>(w, a) }
    }
    #[inline(always)]
    unsafe fn tile_q6_k<const W: usize, const R: usize>(
        w: [&[u8]; W],
        a: [&[u8]; R],
    ) -> [[f32; R]; W] {
        // SAFETY: forwarded contract (whole rows; AVX-512 F/BW/VL/VNNI enabled).
        unsafe { quant512::tile_q6_k::<W, R>(w, a) }
    }
}

/// One entry point per level: the same generic kernels compiled with that level's features.
macro_rules! level_entry {
    ($name:ident, $dot:ty, $features:literal) => {
        mod $name {
            use super::super::types::WType;
            use super::{IntDot, float, quant};

            /// # Safety
            /// The CPU must support the features; `w` must be one row of `k` elements of
            /// `wt` and each of `a` one row of `k` elements of `wt.act_type()`.
            #[target_feature(enable = $features)]
            pub(super) unsafe fn dot<const R: usize>(
                wt: WType,
                k: usize,
                w: &[u8],
                a: [&[u8]; R],
            ) -> [f32; R] {
                // SAFETY: forwarded from this function's contract.
                unsafe {
                    match wt {
                        WType::F32 => float::dot_f32::<R>(k, w, a),
                        WType::F16 => float::dot_f16::<R>(k, w, a),
                        WType::BF16 => float::dot_bf16::<R>(k, w, a),
                        _ => {
                            let [o] = tile::<1, R>(wt, k, [w], a);
                            o
                        }
                    }
                }
            }

            /// [`super::dot_block`] once checked.
            ///
            /// # Safety
            /// As [`dot`] for every row of `w` (rows of `wb` bytes) and of `a` (rows of `ab`
            /// bytes); every output index the strides give is in bounds.
            #[target_feature(enable = $features)]
            #[allow(clippy::too_many_arguments)]
            pub(super) unsafe fn block(
                wt: WType,
                k: usize,
                wb: usize,
                ab: usize,
                w: &[u8],
                a: &[u8],
                out: &mut [f32],
                st: super::Strides,
            ) {
                let (nw, na) = (w.len() / wb, a.len() / ab);
                let wrow = |o: usize| w.get(o * wb..(o + 1) * wb).unwrap_or_default();
                let arow = |t: usize| a.get(t * ab..(t + 1) * ab).unwrap_or_default();
                let mut put = |i: usize, t: usize, v: f32| {
                    if let Some(d) = out.get_mut(i * st.w_stride + t * st.a_stride) {
                        *d = v;
                    }
                };
                macro_rules! go {
                    ($wn:literal, $an:literal, $i:expr, $t:expr) => {{
                        let ws: [&[u8]; $wn] = std::array::from_fn(|j| wrow($i + j));
                        let xs: [&[u8]; $an] = std::array::from_fn(|j| arow($t + j));
                        // SAFETY: forwarded from this function's contract (whole rows).
                        let r = unsafe { tile::<$wn, $an>(wt, k, ws, xs) };
                        for (wi, row) in r.iter().enumerate() {
                            for (ai, v) in row.iter().enumerate() {
                                put($i + wi, $t + ai, *v);
                            }
                        }
                    }};
                }
                // One activation row (decode) takes 4 weight rows per tile only where
                // `WType::decode_tiles` says so.
                let wide = na > 1 || wt.decode_tiles();
                let mut i = 0;
                while i < nw {
                    let four = wide && nw - i >= 4;
                    let mut t = 0;
                    while t < na {
                        let an = (na - t).min(4);
                        match (four, an) {
                            (true, 4) => go!(4, 4, i, t),
                            (true, 3) => go!(4, 3, i, t),
                            (true, 2) => go!(4, 2, i, t),
                            (true, _) => go!(4, 1, i, t),
                            (false, 4) => go!(1, 4, i, t),
                            (false, 3) => go!(1, 3, i, t),
                            (false, 2) => go!(1, 2, i, t),
                            (false, _) => go!(1, 1, i, t),
                        }
                        t += an;
                    }
                    i += if four { 4 } else { 1 };
                }
            }

            /// `out[i][r]` = weight row `w[i]` · activation row `a[r]`, each element computed
            /// exactly as [`dot`] computes it.
            ///
            /// # Safety
            /// As [`dot`], for every row of `w`.
            #[target_feature(enable = $features)]
            pub(super) unsafe fn tile<const W: usize, const R: usize>(
                wt: WType,
                k: usize,
                w: [&[u8]; W],
                a: [&[u8]; R],
            ) -> [[f32; R]; W] {
                // SAFETY: forwarded from this function's contract.
                unsafe {
                    match wt {
                        WType::Q8_0 => <$dot as IntDot>::tile32::<quant::Q8_0, W, R>(w, a),
                        WType::Q4_0 => <$dot as IntDot>::tile32::<quant::Q4_0, W, R>(w, a),
                        WType::Q4_1 => <$dot as IntDot>::tile32::<quant::Q4_1, W, R>(w, a),
                        WType::Q5_0 => <$dot as IntDot>::tile32::<quant::Q5_0, W, R>(w, a),
                        WType::Q5_1 => <$dot as IntDot>::tile32::<quant::Q5_1, W, R>(w, a),
                        WType::Q4_K => <$dot as IntDot>::tile_q4_k::<W, R>(w, a),
                        WType::Q5_K => <$dot as IntDot>::tile_q5_k::<W, R>(w, a),
                        WType::Q6_K => <$dot as IntDot>::tile_q6_k::<W, R>(w, a),
                        WType::F32 | WType::F16 | WType::BF16 => {
                            let mut out = [[0.0f32; R]; W];
                            for i in 0..W {
                                out[i] = dot::<R>(wt, k, w[i], a);
                            }
                            out
                        }
                    }
                }
            }
        }
    };
}

level_entry!(avx2, super::Avx2Dot, "avx2,fma,f16c");
level_entry!(
    vnni,
    super::VnniDot,
    "avx2,fma,f16c,avx512f,avx512bw,avx512vl,avx512vnni"
);

/// Horizontal sum of 8 f32 lanes in a fixed order: (lo128 + hi128), then pairs, then the last two.
#[inline(always)]
pub(super) unsafe fn hsum_ps(v: __m256) -> f32 {
    // SAFETY: only called from functions compiled with AVX enabled.
    unsafe {
        let s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
        let s = _mm_add_ps(s, _mm_movehl_ps(s, s));
        let s = _mm_add_ss(s, _mm_movehdup_ps(s));
        _mm_cvtss_f32(s)
    }
}

/// The little-endian f16 at `p` as f32.
///
/// In inline assembly (`vmovd` from a general register, then `vcvtph2ps`): written with
/// intrinsics, LLVM turns it into `vpinsrw` into an arbitrary register, sometimes a loop's
/// accumulator, which then chains every iteration on the accumulator.
#[inline(always)]
pub(super) unsafe fn f16_at(p: *const u8) -> f32 {
    let h = u32::from(
        // SAFETY: the caller guarantees two readable bytes at `p`.
        unsafe { std::ptr::read_unaligned(p as *const u16) },
    );
    let v: __m128;
    // SAFETY: `vmovd` and `vcvtph2ps` read only the named registers (no memory, no stack)
    // and write only `v`; the caller guarantees F16C support (all our x86 levels have it).
    unsafe {
        std::arch::asm!(
            "vmovd {v}, {h:e}",
            "vcvtph2ps {v}, {v}",
            h = in(reg) h,
            v = out(xmm_reg) v,
            options(pure, nomem, nostack, preserves_flags),
        );
        _mm_cvtss_f32(v)
    }
}
