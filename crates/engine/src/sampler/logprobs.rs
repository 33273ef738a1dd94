//! Log-probabilities of the model's (biased and penalised) distribution.

use super::math;

/// `log Σ_i exp(logits[i])`, computed stably as `m + ln Σ exp(l − m)` with the sum in f64.
///
/// NaN entries are skipped (they count as −∞, as everywhere in the sampler). Returns −∞ when
/// every entry is −∞ or NaN, +∞ when one is +∞. `scratch` is a reusable buffer.
pub(crate) fn log_sum_exp(logits: &[f32], scratch: &mut math::Weights) -> f64 {
    let m = math::max(logits);
    if !m.is_finite() {
        return f64::from(m);
    }
    scratch.compute(logits, m, 1.0);
    f64::from(m) + scratch.total.ln()
}

/// The log-probability of a token whose logit is `logit`, given `lse = log_sum_exp(..)`.
pub(crate) fn logprob(logit: f32, lse: f64) -> f32 {
    if logit == f32::NEG_INFINITY || logit.is_nan() {
        return f32::NEG_INFINITY;
    }
    (f64::from(logit) - lse) as f32
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
        assert!((log_sum_exp(&l, &mut math::Weights::default()) - naive_lse(&l)).abs() < 1e-6);
        // Large logits would overflow a naive sum; shifting must not change the result.
        let shifted: Vec<f32> = l.iter().map(|x| x + 1000.0).collect();
        assert!(
            (log_sum_exp(&shifted, &mut math::Weights::default()) - 1000.0 - naive_lse(&l)).abs()
                < 1e-4
        );
        assert_eq!(
            log_sum_exp(&[f32::NEG_INFINITY; 3], &mut math::Weights::default()),
            f64::NEG_INFINITY
        );
        // NaN entries count as -inf.
        let with_nan = [0.5f32, f32::NAN, 2.0];
        assert!(
            (log_sum_exp(&with_nan, &mut math::Weights::default()) - naive_lse(&[0.5, 2.0])).abs()
                < 1e-6
        );
    }

    #[test]
    fn logprob_of_banned_token_is_minus_infinity() {
        assert_eq!(logprob(f32::NEG_INFINITY, 0.0), f32::NEG_INFINITY);
        assert!((logprob(1.0, 3.0) - -2.0).abs() < 1e-7);
    }
}
