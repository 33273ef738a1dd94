//! Logit bias and the repetition, frequency and presence penalties.
//!
//! These change the model's distribution (they run before log-probabilities are taken),
//! unlike the truncations and the temperature, which only shape how a token is drawn.

/// Adds each `(token, bias)` to its logit. Ids outside `logits` are ignored.
pub(crate) fn apply_logit_bias(logits: &mut [f32], bias: &[(u32, f32)]) {
    for &(id, b) in bias {
        if let Some(l) = logits.get_mut(id as usize) {
            *l += b;
        }
    }
}

/// The penalty settings, already sanitised.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Penalties {
    /// Multiplicative repetition penalty; 1 = off.
    pub repetition: f32,
    /// Repetition window in tokens; 0 = whole history.
    pub repeat_last_n: u32,
    /// OpenAI frequency penalty; 0 = off.
    pub frequency: f32,
    /// OpenAI presence penalty; 0 = off.
    pub presence: f32,
}

impl Penalties {
    pub(crate) fn is_off(&self) -> bool {
        self.repetition == 1.0 && self.frequency == 0.0 && self.presence == 0.0
    }
}

/// Applies the penalties for the tokens of `history` to `logits`, in llama.cpp's order:
///
/// 1. repetition (over the last `repeat_last_n` tokens, or all of them when 0): a token that
///    occurs there has its logit divided by the penalty when positive and multiplied by it
///    when negative or zero (so a penalty > 1 always makes it less likely);
/// 2. frequency and presence (over the whole history, as OpenAI defines them):
///    `logit -= count × frequency + (count > 0) × presence`.
///
/// Each distinct token is changed once, whatever its count. History ids outside `logits`
/// are ignored. `scratch` is a reusable buffer (no allocation once it is big enough).
pub(crate) fn apply_penalties(
    logits: &mut [f32],
    history: &[u32],
    p: Penalties,
    scratch: &mut Vec<u32>,
) {
    if p.repetition != 1.0 {
        let n = p.repeat_last_n as usize;
        let window = if n == 0 || n >= history.len() {
            history
        } else {
            &history[history.len() - n..]
        };
        for_each_count(window, scratch, |token, _| {
            if let Some(l) = logits.get_mut(token as usize) {
                if *l <= 0.0 {
                    *l *= p.repetition;
                } else {
                    *l /= p.repetition;
                }
            }
        });
    }
    if p.frequency != 0.0 || p.presence != 0.0 {
        for_each_count(history, scratch, |token, count| {
            if let Some(l) = logits.get_mut(token as usize) {
                *l -= count as f32 * p.frequency + p.presence;
            }
        });
    }
}

/// Calls `f(token, count)` once per distinct token of `tokens`, in increasing id order.
/// Sorting a copy keeps this deterministic and free of hashing.
fn for_each_count(tokens: &[u32], scratch: &mut Vec<u32>, mut f: impl FnMut(u32, usize)) {
    scratch.clear();
    scratch.extend_from_slice(tokens);
    scratch.sort_unstable();
    for run in scratch.chunk_by(|a, b| a == b) {
        if let Some(&token) = run.first() {
            f(token, run.len());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pen(repetition: f32, repeat_last_n: u32, frequency: f32, presence: f32) -> Penalties {
        Penalties {
            repetition,
            repeat_last_n,
            frequency,
            presence,
        }
    }

    #[test]
    fn bias_adds_and_ignores_out_of_range_ids() {
        let mut l = vec![1.0, 2.0, 3.0];
        apply_logit_bias(&mut l, &[(0, -1.5), (2, 4.0), (99, 7.0)]);
        assert_eq!(l, [-0.5, 2.0, 7.0]);
    }

    #[test]
    fn repetition_divides_positive_and_multiplies_negative_logits() {
        let mut l = vec![2.0, -2.0, 0.0, 3.0];
        let mut s = Vec::new();
        // Tokens 0, 1, 2 occur (0 twice); 3 does not.
        apply_penalties(&mut l, &[0, 1, 0, 2], pen(2.0, 0, 0.0, 0.0), &mut s);
        assert_eq!(l, [1.0, -4.0, 0.0, 3.0]);
    }

    #[test]
    fn repetition_window_only_sees_recent_tokens() {
        let mut l = vec![2.0, 2.0, 2.0];
        let mut s = Vec::new();
        // Window of 2: only tokens 1 and 2 are penalised, token 0 is too old.
        apply_penalties(&mut l, &[0, 1, 2], pen(4.0, 2, 0.0, 0.0), &mut s);
        assert_eq!(l, [2.0, 0.5, 0.5]);
    }

    #[test]
    fn frequency_and_presence_as_openai_defines_them() {
        let mut l = vec![1.0, 1.0, 1.0, 1.0];
        let mut s = Vec::new();
        // counts: token 0 ×3, token 1 ×1, token 2 ×0, token 3 ×2.
        apply_penalties(&mut l, &[0, 3, 0, 1, 3, 0], pen(1.0, 64, 0.5, 0.25), &mut s);
        // logit -= count*0.5 + 0.25 for count > 0.
        assert_eq!(
            l,
            [1.0 - 1.5 - 0.25, 1.0 - 0.5 - 0.25, 1.0, 1.0 - 1.0 - 0.25]
        );
    }

    #[test]
    fn negative_penalties_encourage_and_window_does_not_limit_frequency() {
        let mut l = vec![0.0, 0.0];
        let mut s = Vec::new();
        // Window 1 limits only the repetition penalty (off here); frequency sees everything.
        apply_penalties(&mut l, &[0, 0, 0, 1], pen(1.0, 1, -1.0, -0.5), &mut s);
        assert_eq!(l, [3.5, 1.5]);
    }

    #[test]
    fn repetition_then_frequency_order() {
        let mut l = vec![4.0];
        let mut s = Vec::new();
        apply_penalties(&mut l, &[0, 0], pen(2.0, 0, 1.0, 1.0), &mut s);
        // (4 / 2) - (2*1 + 1) = -1; the other order would give (4 - 3) / 2 = 0.5.
        assert_eq!(l, [-1.0]);
    }

    #[test]
    fn history_ids_outside_vocab_are_ignored() {
        let mut l = vec![1.0];
        let mut s = Vec::new();
        apply_penalties(&mut l, &[5, 7, 0], pen(2.0, 0, 1.0, 0.0), &mut s);
        assert_eq!(l, [1.0 / 2.0 - 1.0]);
    }
}
