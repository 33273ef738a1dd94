//! ggml's vectorised element-wise arithmetic, reproduced bit for bit: its polynomial `expf`
//! (`ggml_v_expf`), SwiGLU (`ggml_vec_swiglu_f32`), the exponentials and sum of its soft-max
//! (`ggml_vec_soft_max_f32`), and the horizontal sums of its registers.
//!
//! llama.cpp's x86 builds differ here: the AVX-512 build works on 16 lanes and finishes its
//! `expf` with `vscalefps`, the AVX2 build on 8 lanes with an FMA by `2^n`. Each kernel set
//! follows the build of its level ([`Lanes::of`]); the scalar kernel set follows the AVX2 build.
//! The scalar functions here are the reference; the x86 kernels equal them bit for bit.

use super::Isa;

/// The register width (in f32 lanes) whose arithmetic the element-wise operations follow.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lanes {
    /// 8 lanes: llama.cpp's AVX2 build.
    L8,
    /// 16 lanes: llama.cpp's AVX-512 build.
    L16,
}

impl Lanes {
    /// The arithmetic a kernel set follows.
    pub fn of(isa: Isa) -> Lanes {
        match isa {
            Isa::Scalar => Lanes::L8,
            #[cfg(target_arch = "x86_64")]
            Isa::X86(super::x86::X86Level::Avx2) => Lanes::L8,
            #[cfg(target_arch = "x86_64")]
            Isa::X86(super::x86::X86Level::Avx512Vnni) => Lanes::L16,
        }
    }

    /// Lanes per register.
    pub fn n(self) -> usize {
        match self {
            Lanes::L8 => 8,
            Lanes::L16 => 16,
        }
    }
}

pub(crate) const SHIFTER: f32 = f32::from_bits(0x4b40_0000); // 0x1.8p23
pub(crate) const LOG2E: f32 = f32::from_bits(0x3fb8_aa3b); // 0x1.715476p+0
pub(crate) const LN2_HI: f32 = f32::from_bits(0x3f31_7200); // 0x1.62e4p-1
pub(crate) const LN2_LO: f32 = f32::from_bits(0x35bf_be8e); // 0x1.7f7d1cp-20
pub(crate) const P0: f32 = f32::from_bits(0x3c07_2010); // 0x1.0e4020p-7
pub(crate) const P1: f32 = f32::from_bits(0x3d2b_9f17); // 0x1.573e2ep-5
pub(crate) const P2: f32 = f32::from_bits(0x3e2a_af33); // 0x1.555e66p-3
pub(crate) const P3: f32 = f32::from_bits(0x3eff_fedb); // 0x1.fffdb6p-2
pub(crate) const P4: f32 = f32::from_bits(0x3f7f_fff6); // 0x1.ffffecp-1

/// `e^x` as ggml's vectorised `ggml_v_expf` of the build `lanes` stands for (to about 1.5 ulp;
/// `+∞` above ~88.4, `0` below ~-104).
#[inline(always)]
pub fn expf(lanes: Lanes, x: f32) -> f32 {
    let z = x.mul_add(LOG2E, SHIFTER);
    let n = z - SHIFTER;
    let b = (-n).mul_add(LN2_LO, (-n).mul_add(LN2_HI, x));
    let u = b * b;
    let hi = P0.mul_add(b, P1).mul_add(u, P2.mul_add(b, P3));
    match lanes {
        Lanes::L16 => {
            if n.abs() > 192.0 {
                return if n <= 0.0 { 0.0 } else { f32::INFINITY };
            }
            let j = hi.mul_add(u, P4.mul_add(b, 1.0));
            scalef(j, n)
        }
        Lanes::L8 => {
            let e = z.to_bits() << 23;
            let k = f32::from_bits(e.wrapping_add(1.0f32.to_bits()));
            let j = hi.mul_add(u, P4 * b);
            if n.abs() <= 126.0 || n.is_nan() {
                return j.mul_add(k, k);
            }
            let g: u32 = if n <= 0.0 { 0x8200_0000 } else { 0 };
            let s1 = f32::from_bits(g.wrapping_add(0x7f00_0000));
            let s2 = f32::from_bits(e.wrapping_sub(g));
            if n.abs() > 192.0 {
                s1 * s1
            } else {
                s2.mul_add(j, s2) * s1
            }
        }
    }
}

/// `vscalefps` for an integral `n` with `|n| ≤ 192`: `j · 2^n`, rounded once.
#[inline(always)]
fn scalef(j: f32, n: f32) -> f32 {
    if n.is_nan() || j.is_nan() {
        return f32::NAN;
    }
    let p = f64::from_bits(((1023 + n as i64) as u64) << 52);
    (j as f64 * p) as f32
}

/// ggml's horizontal sum of one register of `v.len()` (8 or 16) lanes: halves added until
/// one lane is left (`_mm512_reduce_add_ps` as GCC implements it, `hsum_float_8`).
#[inline(always)]
pub fn hsum(v: &[f32]) -> f32 {
    let mut a = [0.0f32; 8];
    match v.len() {
        16 => {
            for (i, x) in a.iter_mut().enumerate() {
                *x = v[i + 8] + v[i];
            }
        }
        8 => a.copy_from_slice(v),
        _ => return v.iter().sum(),
    }
    let b = [a[4] + a[0], a[5] + a[1], a[6] + a[2], a[7] + a[3]];
    (b[0] + b[2]) + (b[1] + b[3])
}

/// `Σ a[i]·b[i]` as llama.cpp's tinyBLAS (`llamafile_sgemm`) computes one element of a
/// matrix product on `lanes`: lane `c` accumulates the products `i ≡ c (mod lanes)` in order
/// with FMAs, then [`hsum`]. (Elements past the last full register are treated as zeros.)
#[inline(always)]
pub fn dot_lanes(lanes: Lanes, a: impl Iterator<Item = f32>, b: impl Iterator<Item = f32>) -> f32 {
    let mut acc = [0.0f32; 16];
    let l = lanes.n();
    for (i, (x, y)) in a.zip(b).enumerate() {
        let c = &mut acc[i % l];
        *c = x.mul_add(y, *c);
    }
    hsum(&acc[..l])
}

/// `g ← silu(g) · u` as `ggml_vec_swiglu_f32`: `silu(x) = x / (1 + expf(0 − x))` with
/// [`expf`] over whole registers, libm's `expf` for the last `n mod lanes` elements.
pub fn swiglu(isa: Isa, g: &mut [f32], u: &[f32]) {
    #[cfg(target_arch = "x86_64")]
    if let Isa::X86(level) = isa
        && super::x86::act::swiglu(level, g, u)
    {
        return;
    }
    swiglu_ref(Lanes::of(isa), g, u);
}

/// The scalar reference of [`swiglu`].
pub fn swiglu_ref(lanes: Lanes, g: &mut [f32], u: &[f32]) {
    let n = g.len().min(u.len());
    let main = n - n % lanes.n();
    for (x, &y) in g[..main].iter_mut().zip(&u[..main]) {
        *x = *x / (1.0 + expf(lanes, 0.0 - *x)) * y;
    }
    for (x, &y) in g[main..n].iter_mut().zip(&u[main..n]) {
        *x = *x / (1.0 + (-*x).exp()) * y;
    }
}

/// `y[i] = e^(x[i] − max)` and their sum, as `ggml_vec_soft_max_f32`: [`expf`] over whole
/// registers, each register's [`hsum`] added to an f64 sum; libm's `expf` for the last
/// `n mod lanes` elements, each added to the f64 sum.
pub fn softmax_exp(isa: Isa, x: &mut [f32], max: f32) -> f64 {
    #[cfg(target_arch = "x86_64")]
    if let Isa::X86(level) = isa
        && let Some(s) = super::x86::act::softmax_exp(level, x, max)
    {
        return s;
    }
    softmax_exp_ref(Lanes::of(isa), x, max)
}

/// The scalar reference of [`softmax_exp`].
pub fn softmax_exp_ref(lanes: Lanes, x: &mut [f32], max: f32) -> f64 {
    let l = lanes.n();
    let main = x.len() - x.len() % l;
    let mut sum = 0.0f64;
    for chunk in x[..main].chunks_exact_mut(l) {
        for v in chunk.iter_mut() {
            *v = expf(lanes, *v - max);
        }
        sum += hsum(chunk) as f64;
    }
    for v in &mut x[main..] {
        *v = (*v - max).exp();
        sum += *v as f64;
    }
    sum
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn expf_is_close_to_libm() {
        for lanes in [Lanes::L8, Lanes::L16] {
            let mut x = -103.0f32;
            while x < 88.0 {
                let (got, want) = (expf(lanes, x), x.exp());
                let ulp = (want.to_bits() as i64 - got.to_bits() as i64).abs();
                assert!(ulp <= 2, "{lanes:?} e^{x}: {got} vs {want}");
                x += 0.0137;
            }
            assert_eq!(expf(lanes, 0.0), 1.0);
            assert_eq!(expf(lanes, f32::NEG_INFINITY), 0.0);
            assert_eq!(expf(lanes, 100.0), f32::INFINITY);
            assert!(expf(lanes, f32::NAN).is_nan());
        }
    }

    #[test]
    fn expf_builds_differ_where_ggml_does() {
        // The AVX-512 build adds 1 inside the polynomial; the AVX2 build in the final FMA.
        let differ = (0..100_000)
            .map(|i| -20.0 + i as f32 * 4e-4)
            .filter(|&x| expf(Lanes::L8, x) != expf(Lanes::L16, x))
            .count();
        assert!(differ > 0 && differ < 50_000, "{differ}");
    }

    #[test]
    fn subnormal_and_overflow_ranges() {
        for lanes in [Lanes::L8, Lanes::L16] {
            for x in [-87.5f32, -90.0, -95.0, -100.0, -103.9] {
                let (got, want) = (expf(lanes, x) as f64, (x as f64).exp());
                assert!((got - want).abs() <= 2.0 * 1.4e-45 + want * 1e-6, "{x}");
            }
            assert!(expf(lanes, 88.0).is_finite());
            assert_eq!(expf(lanes, -200.0), 0.0);
        }
    }

    #[test]
    fn hsum_order() {
        let v: Vec<f32> = (0..16).map(|i| 1.0 + i as f32 * 1e-7).collect();
        let a: Vec<f32> = (0..8).map(|i| v[i + 8] + v[i]).collect();
        assert_eq!(
            hsum(&v),
            ((a[4] + a[0]) + (a[6] + a[2])) + ((a[5] + a[1]) + (a[7] + a[3]))
        );
        assert_eq!(hsum(&[1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0]), 36.0);
    }

    #[test]
    fn dot_lanes_accumulates_by_lane() {
        let a: Vec<f32> = (0..32).map(|i| 1.0 + i as f32).collect();
        let b = [1.0f32; 32];
        let mut lanes = [0.0f32; 16];
        for (i, x) in a.iter().enumerate() {
            lanes[i % 16] += x;
        }
        assert_eq!(
            dot_lanes(Lanes::L16, a.iter().copied(), b.iter().copied()),
            hsum(&lanes)
        );
        assert_eq!(
            dot_lanes(Lanes::L8, a.iter().copied(), b.iter().copied()),
            528.0
        );
    }
}
