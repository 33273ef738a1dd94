//! Log-probabilities of the model's (biased and penalised) distribution.

/// `log Σ_i exp(logits[i])`, computed stably as `m + ln Σ exp(l − m)` with the sum in f64.
///
/// NaN entries are skipped (they count as −∞, as everywhere in the sampler). Returns −∞ when
/// every entry is −∞ or NaN.
pub(crate) fn log_sum_exp(logits: &[f32]) -> f64 {
    let m = logits.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    if m == f32::NEG_INFINITY || m.is_nan() {
        return f64::NEG_INFINITY;
    }
    if m == f32::INFINITY {
        return f64::INFINITY;
    }
    let mut sum = 0.0f64;
    for &l in logits {
        let d = l - m;
        if !d.is_nan() {
            sum += f64::from(d.exp());
        }
    }
    f64::from(m) + sum.ln()
}

/// The log-probability of a token whose logit is `logit`, given `lse = log_sum_exp(..)`.
pub(crate) fn logprob(logit: f32, lse: f64) -> f32 {
    if logit == f32::NEG_INFINITY || logit.is_nan() {
        return f32::NEG_INFINITY;
    }
    (f64::from(logit) - lse) as f32
}

/// The `k` largest logits as `(id, logit)`, most likely first, ties to the lower id.
/// One pass; NaN entries are skipped. `out` is cleared first.
pub(crate) fn top_n(logits: &[f32], k: usize, out: &mut Vec<(u32, f32)>) {
    out.clear();
    if k == 0 {
        return;
    }
    for (i, &l) in logits.iter().enumerate() {
        if l.is_nan() {
            continue;
        }
        // Full and not strictly better than the current k-th: skip (ties keep the lower id).
        if out.len() == k && out.last().is_some_and(|&(_, last)| l <= last) {
            continue;
        }
        // Insert after every entry with a logit ≥ l (they have lower ids).
        let pos = out.partition_point(|&(_, x)| x >= l);
        if out.len() == k {
            out.pop();
        }
        out.insert(pos, (i as u32, l));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn naive_lse(l: &[f32]) -> f64 {
        l.iter().map(|&x| f64::from(x).exp()).sum::<f64>().ln()
    }

    #[test]
    fn log_sum_exp_matches_naive_and_is_stable() {
        let l = [0.5f32, -1.0, 2.0, 3.25, -7.0];
        assert!((log_sum_exp(&l) - naive_lse(&l)).abs() < 1e-6);
        // Large logits would overflow a naive sum; shifting must not change the result.
        let shifted: Vec<f32> = l.iter().map(|x| x + 1000.0).collect();
        assert!((log_sum_exp(&shifted) - 1000.0 - naive_lse(&l)).abs() < 1e-4);
        assert_eq!(log_sum_exp(&[f32::NEG_INFINITY; 3]), f64::NEG_INFINITY);
        // NaN entries count as -inf.
        let with_nan = [0.5f32, f32::NAN, 2.0];
        assert!((log_sum_exp(&with_nan) - naive_lse(&[0.5, 2.0])).abs() < 1e-6);
    }

    #[test]
    fn logprob_of_banned_token_is_minus_infinity() {
        assert_eq!(logprob(f32::NEG_INFINITY, 0.0), f32::NEG_INFINITY);
        assert!((logprob(1.0, 3.0) - -2.0).abs() < 1e-7);
    }

    #[test]
    fn top_n_orders_and_breaks_ties_to_lower_id() {
        let l = [1.0f32, 5.0, 3.0, 5.0, f32::NAN, 4.0, 3.0];
        let mut out = Vec::new();
        top_n(&l, 4, &mut out);
        assert_eq!(out, [(1, 5.0), (3, 5.0), (5, 4.0), (2, 3.0)]);
        top_n(&l, 0, &mut out);
        assert!(out.is_empty());
        top_n(&l, 20, &mut out);
        assert_eq!(out.len(), 6);
        assert_eq!(out.last(), Some(&(0, 1.0)));
    }

    #[test]
    fn top_n_equals_full_sort_on_random_data() {
        let mut rng = crate::sampler::rng::Rng::from_seed(3);
        let l: Vec<f32> = (0..5000)
            .map(|_| ((rng.next_u64() % 200) as f32) / 10.0)
            .collect();
        let mut want: Vec<(u32, f32)> = l.iter().enumerate().map(|(i, &x)| (i as u32, x)).collect();
        want.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
        want.truncate(20);
        let mut got = Vec::new();
        top_n(&l, 20, &mut got);
        assert_eq!(got, want);
    }
}
