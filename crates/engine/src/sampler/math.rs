//! Vocabulary-wide numeric passes, written so that the compiler vectorises them: a NaN-
//! ignoring maximum, a fast `exp` for the (non-positive) shifted logits, and f64 sums with
//! several accumulators.

/// The largest value, ignoring NaN; −∞ for an empty slice or all NaN.
pub(crate) fn max(xs: &[f32]) -> f32 {
    let mut lanes = [f32::NEG_INFINITY; 8];
    let mut chunks = xs.chunks_exact(8);
    for c in &mut chunks {
        for (m, &x) in lanes.iter_mut().zip(c) {
            // `x > m` is false for NaN, so NaN never wins (this is x86's maxps).
            *m = if x > *m { x } else { *m };
        }
    }
    let mut m = f32::NEG_INFINITY;
    for &x in lanes.iter().chain(chunks.remainder()) {
        m = if x > m { x } else { m };
    }
    m
}

/// The first index holding exactly `v` (`-0 == +0`). Scans blocks of 64 with a branch-free
/// test, then the block that has it.
pub(crate) fn first_equal(xs: &[f32], v: f32) -> Option<usize> {
    for (b, block) in xs.chunks(64).enumerate() {
        if block.iter().fold(false, |found, &x| found | (x == v)) {
            return block.iter().position(|&x| x == v).map(|i| b * 64 + i);
        }
    }
    None
}

const LOG2E: f32 = std::f32::consts::LOG2_E;
/// ln 2 split in two for Cody–Waite range reduction (Cephes' constants).
const LN2_HI: f32 = 0.693_359_4;
const LN2_LO: f32 = -2.121_944_4e-4;
/// 1.5 × 2²³: adding it rounds to an integer held in the low mantissa bits.
const ROUND_MAGIC: f32 = 12_582_912.0;

/// `e^x` to about 1 ulp for `x ∈ [−87, 88]`, and 0 for smaller `x`, −∞ or NaN.
///
/// Cephes' `expf` polynomial after reducing `x = n ln2 + r` with `|r| ≤ ln2 / 2`, and `2^n`
/// built from its bits. Branch-free, so loops over it vectorise.
#[inline(always)]
pub(crate) fn exp(x: f32) -> f32 {
    let xc = x.clamp(-87.0, 88.0);
    let t = xc * LOG2E + ROUND_MAGIC;
    let n = t - ROUND_MAGIC;
    let r = xc - n * LN2_HI - n * LN2_LO;
    let mut p = 1.987_569_1e-4f32;
    p = p * r + 1.398_199_9e-3;
    p = p * r + 8.333_452e-3;
    p = p * r + 4.166_579_6e-2;
    p = p * r + 1.666_666_5e-1;
    p = p * r + 0.5; // Cephes: 5.0000001201e-1, which is 0.5 in f32
    let y = p * r * r + r + 1.0;
    // n ∈ [−126, 127] sits in the low bits of t; 2^n has exponent field n + 127.
    let n_int = t.to_bits().wrapping_sub(ROUND_MAGIC.to_bits()) as i32;
    let scale = f32::from_bits((n_int.wrapping_add(127) as u32) << 23);
    // `>=` is false for NaN, so NaN and everything below −87 (incl. −∞) give 0.
    if x >= -87.0 { y * scale } else { 0.0 }
}

/// Σ xs in f64, with eight independent accumulators.
pub(crate) fn sum_f64(xs: &[f32]) -> f64 {
    let mut acc = [0.0f64; 8];
    let mut chunks = xs.chunks_exact(8);
    for c in &mut chunks {
        for (a, &x) in acc.iter_mut().zip(c) {
            *a += f64::from(x);
        }
    }
    let rest: f64 = chunks.remainder().iter().map(|&x| f64::from(x)).sum();
    acc.iter().sum::<f64>() + rest
}

/// Entries per block of [`Weights`]' block sums.
pub(crate) const BLOCK: usize = 256;

/// Unnormalised probabilities `exp((l − max) × scale)` of a list of logits, with their
/// per-block and total sums (f64), so that a draw can skip whole blocks.
#[derive(Debug, Clone, Default)]
pub(crate) struct Weights {
    pub w: Vec<f32>,
    /// Σ of each block of [`BLOCK`] entries of `w`.
    pub blocks: Vec<f64>,
    /// Σ of `blocks`, added in order.
    pub total: f64,
}

impl Weights {
    /// Recomputes the weights of `logits` for maximum `m` and `scale ≥ 0` (every exponent is
    /// ≤ 0; NaN and −∞ logits get 0).
    pub(crate) fn compute(&mut self, logits: &[f32], m: f32, scale: f32) {
        self.w.clear();
        self.w.resize(logits.len(), 0.0);
        for (w, &l) in self.w.iter_mut().zip(logits) {
            *w = exp((l - m) * scale);
        }
        self.sum_blocks();
    }

    /// As [`compute`](Self::compute) for candidates' logits, at scale 1.
    pub(crate) fn compute_cands(&mut self, c: &[super::truncate::Cand], m: f32) {
        self.w.clear();
        self.w.resize(c.len(), 0.0);
        for (w, x) in self.w.iter_mut().zip(c) {
            *w = exp(x.logit - m);
        }
        self.sum_blocks();
    }

    fn sum_blocks(&mut self) {
        self.blocks.clear();
        self.blocks.extend(self.w.chunks(BLOCK).map(sum_f64));
        self.total = self.blocks.iter().sum();
    }

    /// The first index whose running sum exceeds `target` (`0 ≤ target < total`), skipping
    /// whole blocks; entries with weight 0 are never returned. `None` if every weight is 0.
    pub(crate) fn find(&self, target: f64) -> Option<usize> {
        let mut cum = 0.0f64;
        let mut last_positive = None;
        for (b, &bs) in self.blocks.iter().enumerate() {
            if bs <= 0.0 {
                continue;
            }
            let start = b * BLOCK;
            let block = self.w.get(start..).unwrap_or_default();
            let block = block.get(..BLOCK).unwrap_or(block);
            if cum + bs <= target {
                cum += bs;
                last_positive = block.iter().rposition(|&w| w > 0.0).map(|i| start + i);
                continue;
            }
            // The target falls in this block (up to rounding inside it).
            let mut inner = cum;
            for (i, &w) in block.iter().enumerate() {
                if w > 0.0 {
                    inner += f64::from(w);
                    last_positive = Some(start + i);
                    if target < inner {
                        return last_positive;
                    }
                }
            }
            return last_positive;
        }
        last_positive
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn max_ignores_nan_and_handles_every_length() {
        for n in 0..40 {
            let xs: Vec<f32> = (0..n).map(|i| ((i * 37) % 11) as f32 - 5.0).collect();
            let want = xs.iter().copied().fold(f32::NEG_INFINITY, f32::max);
            assert_eq!(max(&xs), want, "n = {n}");
        }
        assert_eq!(max(&[f32::NAN, 1.0, f32::NAN, -3.0]), 1.0);
        assert_eq!(max(&[f32::NAN; 9]), f32::NEG_INFINITY);
        assert_eq!(max(&[]), f32::NEG_INFINITY);
    }

    #[test]
    fn first_equal_finds_the_first() {
        let mut xs = vec![0.0f32; 300];
        assert_eq!(first_equal(&xs, 1.0), None);
        xs[130] = 1.0;
        xs[290] = 1.0;
        assert_eq!(first_equal(&xs, 1.0), Some(130));
        assert_eq!(first_equal(&xs, -0.0), Some(0));
        assert_eq!(first_equal(&xs, f32::NAN), None);
    }

    /// Named tolerance: at most 4 × f32 epsilon of relative error against f64 `exp`.
    const EXP_MAX_REL_ERR: f64 = 4.0 * f32::EPSILON as f64;

    #[test]
    fn exp_is_accurate_over_its_range() {
        let mut worst = 0.0f64;
        let steps = 400_000;
        for i in 0..=steps {
            let x = -87.0 + 175.0 * (i as f32 / steps as f32);
            let want = f64::from(x).exp();
            let got = f64::from(exp(x));
            worst = worst.max(((got - want) / want).abs());
        }
        assert!(worst < EXP_MAX_REL_ERR, "worst relative error {worst}");
        assert_eq!(exp(0.0), 1.0);
        assert_eq!(exp(f32::NEG_INFINITY), 0.0);
        assert_eq!(exp(f32::NAN), 0.0);
        assert_eq!(exp(-100.0), 0.0);
    }

    #[test]
    fn sum_and_weights() {
        let xs: Vec<f32> = (0..1001).map(|i| i as f32 * 0.5).collect();
        assert_eq!(sum_f64(&xs), 0.5 * 1000.0 * 1001.0 / 2.0);
        let mut w = Weights::default();
        w.compute(&[0.0, -1.0, f32::NEG_INFINITY, f32::NAN], 0.0, 2.0);
        assert_eq!(w.w.len(), 4);
        assert!((w.total - (1.0 + (-2.0f64).exp())).abs() < 1e-6);
        assert_eq!(&w.w[2..], [0.0, 0.0]);
    }

    #[test]
    fn block_walk_equals_linear_walk() {
        // Weights with zero blocks, so skipping and rounding paths are exercised.
        let n = 5 * BLOCK + 17;
        let logits: Vec<f32> = (0..n)
            .map(|i| {
                if (BLOCK..3 * BLOCK).contains(&i) {
                    f32::NEG_INFINITY
                } else {
                    ((i * 31) % 97) as f32 / -10.0
                }
            })
            .collect();
        let mut w = Weights::default();
        w.compute(&logits, 0.0, 1.0);
        let linear = |target: f64| {
            let mut cum = 0.0;
            for (i, &x) in w.w.iter().enumerate() {
                cum += f64::from(x);
                if x > 0.0 && target < cum {
                    return i;
                }
            }
            n
        };
        for k in 0..2000 {
            let target = w.total * (k as f64 + 0.5) / 2000.0;
            let got = w.find(target).unwrap_or(n);
            // Summation order differs slightly; allow a neighbouring positive entry.
            let want = linear(target);
            assert!(
                got.abs_diff(want) <= 1 || got == want,
                "target {target}: {got} vs {want}"
            );
            assert!(w.w[got] > 0.0);
        }
        assert_eq!(w.find(0.0), Some(0));
        let mut zero = Weights::default();
        zero.compute(&[f32::NEG_INFINITY; 3], 0.0, 1.0);
        assert_eq!(zero.find(0.0), None);
    }
}
