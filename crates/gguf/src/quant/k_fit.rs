//! Per-sub-block scale search for the K-quants: try a few scales around the range-based one,
//! refit each by weighted least squares, keep the one with the smallest weighted error.

/// Fits `x ≈ scale * q - min` with integer `q` in `0..=nmax`, `scale >= 0`, `min >= 0`.
/// Writes the chosen levels to `q` and returns `(scale, min)`.
pub(super) fn fit_scale_min(x: &[f32], nmax: u8, q: &mut [u8]) -> (f32, f32) {
    let lo = x.iter().fold(0.0f32, |m, &v| m.min(v));
    let hi = x.iter().fold(lo, |m, &v| m.max(v));
    q.fill(0);
    if hi - lo <= 0.0 || !(hi - lo).is_finite() {
        return (0.0, -lo);
    }
    // Weight each value by its magnitude above the sub-block's RMS, so large values fit well.
    let rms = (x.iter().map(|v| v * v).sum::<f32>() / x.len().max(1) as f32).sqrt();
    let w = |v: f32| rms + v.abs();
    let nmax_f = f32::from(nmax);

    let mut best_err = f32::INFINITY;
    let mut best = ((hi - lo) / nmax_f, lo);
    let mut levels = vec![0u8; x.len()];
    for k in -10i8..=10 {
        let iscale = (nmax_f + 0.1 * f32::from(k)) / (hi - lo);
        let (mut sw, mut swl, mut swl2, mut swx, mut swlx) = (0f32, 0f32, 0f32, 0f32, 0f32);
        for (l, &v) in levels.iter_mut().zip(x) {
            *l = super::nearest_int(iscale * (v - lo)).clamp(0, i32::from(nmax)) as u8;
            let (wi, lf) = (w(v), f32::from(*l));
            sw += wi;
            swl += wi * lf;
            swl2 += wi * lf * lf;
            swx += wi * v;
            swlx += wi * lf * v;
        }
        let det = sw * swl2 - swl * swl;
        if det <= 0.0 {
            continue;
        }
        let mut s = (sw * swlx - swl * swx) / det;
        let mut b = (swl2 * swx - swl * swlx) / det;
        if b > 0.0 {
            // The offset must be ≤ 0 (stored as a non-negative min): refit the scale alone.
            b = 0.0;
            s = swlx / swl2;
        }
        if s <= 0.0 || !s.is_finite() {
            continue;
        }
        let err: f32 = levels
            .iter()
            .zip(x)
            .map(|(&l, &v)| {
                let e = s * f32::from(l) + b - v;
                w(v) * e * e
            })
            .sum();
        if err < best_err {
            best_err = err;
            best = (s, b);
            q.copy_from_slice(&levels);
        }
    }
    (best.0, -best.1)
}

/// Fits `x ≈ scale * q` with integer `q` in `-nmax..nmax` (signed scale). Returns the scale.
pub(super) fn fit_scale_sym(x: &[f32], nmax: i32) -> f32 {
    let max = super::signed_absmax(x);
    if max == 0.0 || !max.is_finite() {
        return 0.0;
    }
    let mut best_score = -1.0f32;
    let mut best = -max / nmax as f32;
    for k in -9i8..=9 {
        let iscale = -(nmax as f32 + 0.1 * f32::from(k)) / max;
        let (mut sxl, mut sll) = (0f32, 0f32);
        for &v in x {
            let l = super::nearest_int(iscale * v).clamp(-nmax, nmax - 1) as f32;
            let w = v * v;
            sxl += w * v * l;
            sll += w * l * l;
        }
        if sll <= 0.0 {
            continue;
        }
        // Weighted error is Σw·x² − (Σw·x·l)²/Σw·l²; maximise the subtracted term.
        let score = sxl * sxl / sll;
        if score > best_score {
            best_score = score;
            best = sxl / sll;
        }
    }
    best
}
