//! The engine's sampling parameters, their defaults and their validation.

use crate::EngineError;

/// Most `top_logprobs` alternatives a caller may ask for (OpenAI's limit).
pub const MAX_TOP_LOGPROBS: u8 = 20;

/// Default window of the repetition penalty, in tokens (llama.cpp's `penalty_last_n`).
pub const DEFAULT_REPEAT_LAST_N: u32 = 64;

/// Sampling parameters as the engine applies them.
///
/// This mirrors `switchyard_core::Sampling` with the engine's defaults filled in (the
/// local backend converts; the engine does not depend on the core crate). The defaults
/// are OpenAI's and llama.cpp's "off" values, so [`SamplingParams::default`] samples
/// from the model's unmodified distribution at temperature 1.
#[derive(Debug, Clone, PartialEq)]
pub struct SamplingParams {
    /// Softmax temperature. `0` (or less) means greedy: the arg-max token, ties to the
    /// lowest id, independent of the seed. Default 1.
    pub temperature: f32,
    /// Nucleus sampling: keep the most likely tokens until their mass reaches `top_p`.
    /// `1` disables. Default 1.
    pub top_p: f32,
    /// Keep only the `top_k` most likely tokens. `0` disables. Default 0.
    pub top_k: u32,
    /// Drop tokens whose probability is below `min_p` × the top token's. `0` disables.
    pub min_p: f32,
    /// Drop tokens whose probability is below `top_a` × (top token's probability)².
    /// `0` disables.
    pub top_a: f32,
    /// Multiplicative penalty (llama.cpp / CTRL style) for tokens seen in the last
    /// [`repeat_last_n`](Self::repeat_last_n) tokens of the history. `1` disables.
    pub repetition_penalty: f32,
    /// Window of the repetition penalty in tokens; `0` means the whole history.
    /// Default [`DEFAULT_REPEAT_LAST_N`]. (Not an API field; the engine's choice.)
    pub repeat_last_n: u32,
    /// OpenAI frequency penalty: `logit -= count × frequency_penalty`. Default 0.
    pub frequency_penalty: f32,
    /// OpenAI presence penalty: `logit -= presence_penalty` if the token occurred. Default 0.
    pub presence_penalty: f32,
    /// Seed of the random stream. `None`: a fresh seed from the operating system.
    pub seed: Option<u64>,
    /// Additive biases `(token id, bias)` applied to the raw logits first.
    pub logit_bias: Vec<(u32, f32)>,
    /// `Some(k)`: report the chosen token's log-probability and the `k` (0..=20) most
    /// likely alternatives. `None`: no log-probabilities are computed.
    pub logprobs: Option<u8>,
}

impl Default for SamplingParams {
    fn default() -> Self {
        SamplingParams {
            temperature: 1.0,
            top_p: 1.0,
            top_k: 0,
            min_p: 0.0,
            top_a: 0.0,
            repetition_penalty: 1.0,
            repeat_last_n: DEFAULT_REPEAT_LAST_N,
            frequency_penalty: 0.0,
            presence_penalty: 0.0,
            seed: None,
            logit_bias: Vec::new(),
            logprobs: None,
        }
    }
}

impl SamplingParams {
    /// Greedy decoding (temperature 0), everything else at its default.
    pub fn greedy() -> Self {
        SamplingParams {
            temperature: 0.0,
            ..SamplingParams::default()
        }
    }

    /// Whether these parameters decode greedily (temperature ≤ 0 or `top_k == 1`).
    pub fn is_greedy(&self) -> bool {
        self.temperature <= 0.0 || self.top_k == 1
    }

    /// Checks every field against the ranges the engine supports and every biased token
    /// id against `vocab_size`. The sampler itself never fails: [`Sampler::new`](super::Sampler::new)
    /// sanitises instead (see there), so this is for the backend to turn bad input into a
    /// clear error.
    pub fn validate(&self, vocab_size: usize) -> Result<(), EngineError> {
        let bad = |field: &str, value: f32, range: &str| {
            Err(EngineError::Invalid(format!(
                "sampling: {field} = {value} is outside {range}"
            )))
        };
        // Written as positive membership tests so that NaN fails every one of them.
        let checks = [
            (
                "temperature",
                self.temperature,
                self.temperature >= 0.0 && self.temperature.is_finite(),
                "[0, ∞)",
            ),
            (
                "top_p",
                self.top_p,
                self.top_p > 0.0 && self.top_p <= 1.0,
                "(0, 1]",
            ),
            (
                "min_p",
                self.min_p,
                (0.0..=1.0).contains(&self.min_p),
                "[0, 1]",
            ),
            (
                "top_a",
                self.top_a,
                (0.0..=1.0).contains(&self.top_a),
                "[0, 1]",
            ),
            (
                "repetition_penalty",
                self.repetition_penalty,
                self.repetition_penalty > 0.0 && self.repetition_penalty.is_finite(),
                "(0, ∞)",
            ),
            (
                "frequency_penalty",
                self.frequency_penalty,
                self.frequency_penalty.is_finite(),
                "finite values",
            ),
            (
                "presence_penalty",
                self.presence_penalty,
                self.presence_penalty.is_finite(),
                "finite values",
            ),
        ];
        for (field, value, ok, range) in checks {
            if !ok {
                return bad(field, value, range);
            }
        }
        for &(token, bias) in &self.logit_bias {
            if token as usize >= vocab_size {
                return Err(EngineError::BadToken {
                    token,
                    vocab: vocab_size,
                });
            }
            if !bias.is_finite() {
                return bad("logit_bias", bias, "finite values");
            }
        }
        if let Some(k) = self.logprobs.filter(|&k| k > MAX_TOP_LOGPROBS) {
            return Err(EngineError::Invalid(format!(
                "sampling: top_logprobs = {k} is outside 0..={MAX_TOP_LOGPROBS}"
            )));
        }
        Ok(())
    }

    /// A copy with every field forced into the domain the sampler handles, so that no
    /// input can make it misbehave: NaN or non-positive-infinite values fall back to the
    /// field's "off" value, ranges are clamped, non-finite biases and out-of-vocabulary
    /// bias ids are dropped, `logprobs` is capped at 20.
    pub(crate) fn sanitised(&self, vocab_size: usize) -> SamplingParams {
        let or = |v: f32, ok: bool, fallback: f32| if ok { v } else { fallback };
        let t = self.temperature;
        SamplingParams {
            // NaN → default 1; negative → greedy; +∞ stays (uniform over the survivors).
            temperature: if t.is_nan() { 1.0 } else { t.max(0.0) },
            top_p: if self.top_p.is_nan() {
                1.0
            } else {
                self.top_p.clamp(0.0, 1.0)
            },
            top_k: self.top_k,
            min_p: or(self.min_p.clamp(0.0, 1.0), !self.min_p.is_nan(), 0.0),
            top_a: or(self.top_a.clamp(0.0, 1.0), !self.top_a.is_nan(), 0.0),
            repetition_penalty: or(
                self.repetition_penalty,
                self.repetition_penalty > 0.0 && self.repetition_penalty.is_finite(),
                1.0,
            ),
            repeat_last_n: self.repeat_last_n,
            frequency_penalty: or(
                self.frequency_penalty,
                self.frequency_penalty.is_finite(),
                0.0,
            ),
            presence_penalty: or(
                self.presence_penalty,
                self.presence_penalty.is_finite(),
                0.0,
            ),
            seed: self.seed,
            logit_bias: self
                .logit_bias
                .iter()
                .copied()
                .filter(|&(id, b)| (id as usize) < vocab_size && b.is_finite())
                .collect(),
            logprobs: self.logprobs.map(|k| k.min(MAX_TOP_LOGPROBS)),
        }
    }
}
