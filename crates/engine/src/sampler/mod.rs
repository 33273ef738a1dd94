//! Token sampling: turning the model's logits into the next token, with the log-probabilities
//! the API reports, plus the end conditions of a choice (stop strings, end-of-generation
//! tokens, `max_tokens`).
//!
//! # Order of operations
//!
//! [`Sampler::sample`] follows llama.cpp's common sampler chain. On the logits of the
//! vocabulary (the first `vocab_size` entries; padding rows beyond it are never sampled):
//!
//! 1. **logit bias**: `logit[id] += bias` for each `(id, bias)`;
//! 2. **penalties**, counted over the `history` passed in (the caller passes the tokens
//!    generated so far in this choice, OpenAI's "text so far"):
//!    - repetition (`repetition_penalty`, over the last `repeat_last_n` tokens, 0 = all):
//!      a seen token's logit is divided by the penalty when positive, multiplied when ≤ 0;
//!    - frequency and presence, as OpenAI defines them, over the whole history:
//!      `logit -= count × frequency_penalty + (count > 0) × presence_penalty`;
//! 3. **log-probabilities** (only when requested) are taken here, see below;
//! 4. **greedy** when `temperature == 0` (or `top_k == 1`): the arg-max, ties to the lowest
//!    id. It uses no randomness, so the seed does not matter. Otherwise:
//! 5. **top-k** keeps the `top_k` highest logits (0 = off);
//! 6. **top-p** keeps the smallest set of most likely tokens whose probability, renormalised
//!    over what top-k kept, reaches `top_p` (the crossing token is kept);
//! 7. **min-p** drops tokens below `min_p` × the most likely token's probability;
//! 8. **top-a** drops tokens below `top_a` × (the most likely token's probability)², with
//!    probabilities renormalised over the remaining tokens;
//! 9. **temperature**: the survivors get probabilities ∝ `exp(logit / temperature)`;
//! 10. **draw**: one uniform number from the sequence's generator picks the token.
//!
//! Steps 5–8 use temperature-1 probabilities (as llama.cpp does: the temperature comes
//! last), and each keeps at least one token. None of them sorts the whole vocabulary.
//!
//! # Which distribution the log-probabilities describe
//!
//! The reported `logprob` of the chosen token and the `top_logprobs` alternatives are the
//! natural logarithms of the probabilities of the **model's distribution after logit bias
//! and the repetition, frequency and presence penalties, at temperature 1, over the whole
//! vocabulary, before top-k, top-p, min-p or top-a truncation**: `log_softmax(logits)` of the
//! penalised logits. They do not depend on `temperature` or the truncation settings, so they
//! sum to 1 over the vocabulary and are comparable between requests with different sampling
//! settings, as OpenAI reports them. A chosen token can therefore have a logprob that the
//! truncated, tempered sampling distribution would not give it (for instance a token drawn
//! at temperature 1.5 reports its temperature-1 probability). `top_logprobs` lists the `k`
//! most likely tokens of that same distribution, most likely first, ties to the lower id.
//! A token banned by a −∞ logit reports `-inf`.
//!
//! # Seeds
//!
//! Each sampler owns a xoshiro256** generator ([`rng`]), so the same seed and the same
//! sequence of logits give the same tokens on every platform and in every version. Each
//! non-greedy token consumes exactly one 64-bit draw. Without a seed one is drawn from the
//! operating system per sampler (see [`Sampler::seed`] to log it). Choices of an `n > 1`
//! request use [`Sampler::for_choice`]: choice `i` gets a seed derived from `(seed, i)`,
//! so the streams are independent, and choice 0 uses the seed itself.

mod logprobs;
mod math;
mod params;
mod penalties;
pub mod rng;
mod stop;
mod truncate;

#[cfg(test)]
mod tests;

pub use params::{DEFAULT_REPEAT_LAST_N, MAX_TOP_LOGPROBS, SamplingParams};
pub use stop::{EndConditions, Finish, StopMatcher, StopOutcome};

use penalties::Penalties;
use rng::Rng;
use truncate::Cand;

/// The outcome of one sampling step.
#[derive(Debug, Clone, PartialEq)]
pub struct Sampled {
    /// The chosen token id.
    pub token: u32,
    /// Its log-probability (see the module docs for which distribution); `Some` exactly when
    /// the parameters ask for `logprobs`.
    pub logprob: Option<f32>,
    /// The `top_logprobs` most likely tokens as `(id, logprob)`, most likely first; empty
    /// unless asked for.
    pub top: Vec<(u32, f32)>,
}

/// Samples the tokens of one sequence (one choice). Holds the generator and reusable
/// buffers, so sampling allocates nothing once warmed up.
#[derive(Debug, Clone)]
pub struct Sampler {
    params: SamplingParams,
    vocab_size: usize,
    seed: u64,
    rng: Rng,
    cands: Vec<Cand>,
    cand_logits: Vec<f32>,
    weights: math::Weights,
    scratch: Vec<u32>,
    top: Vec<Cand>,
}

impl Sampler {
    /// A sampler for a single-choice request (the same as choice 0 of [`for_choice`](Self::for_choice)).
    ///
    /// It never fails: out-of-range parameters are sanitised (NaN → the field's default,
    /// ranges clamped, biases for ids outside the vocabulary dropped). Use
    /// [`SamplingParams::validate`] first to reject bad input with an error instead.
    pub fn new(params: &SamplingParams, vocab_size: usize) -> Self {
        Sampler::for_choice(params, vocab_size, 0)
    }

    /// The sampler for choice `index` of an `n > 1` request.
    pub fn for_choice(params: &SamplingParams, vocab_size: usize, index: u32) -> Self {
        let params = params.sanitised(vocab_size);
        let seed = match params.seed {
            Some(s) => rng::choice_seed(s, index),
            None => rng::os_seed(),
        };
        Sampler {
            params,
            vocab_size,
            seed,
            rng: Rng::from_seed(seed),
            cands: Vec::new(),
            cand_logits: Vec::new(),
            weights: math::Weights::default(),
            scratch: Vec::new(),
            top: Vec::new(),
        }
    }

    /// The seed this sampler's generator started from (derived for choices > 0, drawn from
    /// the OS when none was given).
    pub fn seed(&self) -> u64 {
        self.seed
    }

    /// The sanitised parameters in force.
    pub fn params(&self) -> &SamplingParams {
        &self.params
    }

    /// Chooses the next token.
    ///
    /// `logits` are the model's raw logits for the next position; only the first
    /// `vocab_size` are considered, and those are **modified in place** (logit bias and
    /// penalties are applied to them), so pass a scratch copy if the raw values are still
    /// needed. `history` holds the tokens the penalties count (see the module docs).
    ///
    /// Logits should be finite or −∞. NaN counts as −∞; if nothing can be drawn (all −∞,
    /// or +∞ present) the arg-max is returned. It never panics.
    pub fn sample(&mut self, logits: &mut [f32], history: &[u32]) -> Sampled {
        let n = logits.len().min(self.vocab_size);
        let logits = logits.get_mut(..n).unwrap_or_default();
        let p = &self.params;

        penalties::apply_logit_bias(logits, &p.logit_bias);
        let pen = Penalties {
            repetition: p.repetition_penalty,
            repeat_last_n: p.repeat_last_n,
            frequency: p.frequency_penalty,
            presence: p.presence_penalty,
        };
        if !pen.is_off() {
            penalties::apply_penalties(logits, history, pen, &mut self.scratch);
        }

        let lse = p.logprobs.map(|k| {
            truncate::top_n(logits, usize::from(k), &mut self.top);
            logprobs::log_sum_exp(logits, &mut self.weights)
        });

        let token = if p.is_greedy() {
            truncate::argmax(logits)
        } else {
            self.draw(logits)
        };

        let (logprob, top) = match lse {
            Some(lse) => {
                let l = logits
                    .get(token as usize)
                    .copied()
                    .unwrap_or(f32::NEG_INFINITY);
                let top = self
                    .top
                    .iter()
                    .map(|c| (c.id, logprobs::logprob(c.logit, lse)))
                    .collect();
                (Some(logprobs::logprob(l, lse)), top)
            }
            None => (None, Vec::new()),
        };
        Sampled {
            token,
            logprob,
            top,
        }
    }

    /// Steps 5–10 of the module docs on already penalised logits.
    fn draw(&mut self, logits: &[f32]) -> u32 {
        let p = &self.params;
        let truncating = (p.top_k > 0 && (p.top_k as usize) < logits.len())
            || p.top_p < 1.0
            || p.min_p > 0.0
            || p.top_a > 0.0;
        let picked = if truncating {
            if p.top_k == 0 && p.top_p >= 1.0 && p.min_p > 0.0 {
                // min-p comes first: gather only the tokens it keeps.
                let floor = math::max(logits) + p.min_p.min(1.0).ln();
                truncate::gather_above(logits, floor, &mut self.cands);
            } else {
                truncate::gather_top_k(logits, p.top_k as usize, &mut self.cands);
            }
            truncate::top_p(&mut self.cands, p.top_p, &mut self.weights);
            truncate::min_p(&mut self.cands, p.min_p);
            truncate::top_a(&mut self.cands, p.top_a, &mut self.weights);
            self.cand_logits.clear();
            self.cand_logits.extend(self.cands.iter().map(|c| c.logit));
            truncate::draw_index(
                &self.cand_logits,
                p.temperature,
                &mut self.rng,
                &mut self.weights,
            )
            .and_then(|i| self.cands.get(i).map(|c| c.id))
        } else {
            // Nothing truncated: draw straight from the logits in id order, no copy.
            truncate::draw_index(logits, p.temperature, &mut self.rng, &mut self.weights)
                .map(|i| i as u32)
        };
        picked.unwrap_or_else(|| truncate::argmax(logits))
    }
}
