//! The generation loop: one prefill, then `n` choices decoded together (one batched forward
//! call per step), with sampling, end conditions and stop strings.
//!
//! It is synchronous: the backend runs it on a dedicated thread, the CLI calls it directly.

use switchyard_core::{Delta, Event, FinishReason, TokenLogprob, TopLogprob};
use switchyard_engine::sampler::{
    EndConditions, Finish, Sampler, SamplingParams, StopMatcher, StopOutcome,
};
use switchyard_engine::{BatchEntry, EngineError, Logits, SeqState};
use switchyard_tokenizer::{Decoder, Tokenizer};

use crate::LocalModel;

/// What to generate.
#[derive(Debug, Clone)]
pub struct GenerateOptions {
    pub sampling: SamplingParams,
    /// Completion budget per choice.
    pub max_tokens: u32,
    /// Number of choices (each its own sequence and sampler).
    pub n: u32,
    /// Stop strings (never emitted).
    pub stop: Vec<String>,
    /// Do not stop at end-of-generation tokens.
    pub ignore_eos: bool,
}

/// What a finished (or cancelled) generation produced.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Generation {
    pub prompt_tokens: usize,
    /// Every sampled token, end-of-generation tokens included (llama.cpp's `n_decoded`), over
    /// all choices: the usage's `completion_tokens`.
    pub completion_tokens: usize,
    /// Per choice, the generated ids whose text was emitted (without a final
    /// end-of-generation token).
    pub tokens: Vec<Vec<u32>>,
    /// The sink asked to stop (the client went away).
    pub cancelled: bool,
}

struct Choice {
    index: u32,
    seq: SeqState,
    sampler: Sampler,
    decoder: Decoder,
    stop: StopMatcher,
    logits: Vec<f32>,
    tokens: Vec<u32>,
    generated: u32,
    done: bool,
}

/// Runs `prompt` through the model and samples up to `max_tokens` tokens for each of `n`
/// choices. Every piece of output goes to `sink` as an [`Event::Delta`] / [`Event::Finish`]
/// (no usage event: the caller adds it); when `sink` returns `false` generation stops at once.
pub fn generate(
    lm: &LocalModel,
    prompt: &[u32],
    opts: &GenerateOptions,
    sink: &mut dyn FnMut(Event) -> bool,
) -> Result<Generation, EngineError> {
    let model = lm.model();
    let tok = lm.tokenizer();
    if prompt.is_empty() {
        return Err(EngineError::Invalid("the prompt has no tokens".into()));
    }
    let n_ctx = (prompt.len() + opts.max_tokens as usize).min(lm.context_length());
    let mut out = Generation {
        prompt_tokens: prompt.len(),
        ..Generation::default()
    };
    let n = opts.n.max(1);
    let end = EndConditions::new(
        if opts.ignore_eos {
            Vec::new()
        } else {
            tok.eog_tokens().iter().copied().collect()
        },
        opts.max_tokens,
    );
    let vocab = model.n_vocab();
    let mut seq = model.new_sequence(lm.kv_type(), n_ctx)?;
    let logits = model.forward(&mut seq, prompt, Logits::Last)?;
    let mut choices: Vec<Choice> = (0..n)
        .map(|index| Choice {
            index,
            seq: seq.clone(),
            sampler: Sampler::for_choice(&opts.sampling, vocab, index),
            decoder: Decoder::new(),
            stop: StopMatcher::new(&opts.stop),
            logits: logits.clone(),
            tokens: Vec::new(),
            generated: 0,
            done: false,
        })
        .collect();
    drop(seq);
    if end.budget_spent(0) {
        for c in &mut choices {
            c.done = true;
            if !sink(finish(c.index, Finish::Length)) {
                out.cancelled = true;
                break;
            }
        }
    }
    while !out.cancelled && choices.iter().any(|c| !c.done) {
        let mut next = Vec::with_capacity(choices.len());
        for c in choices.iter_mut().filter(|c| !c.done) {
            let sampled = c.sampler.sample(&mut c.logits, &c.tokens);
            c.generated += 1;
            out.completion_tokens += 1;
            let token = sampled.token;
            let lp = sampled
                .logprob
                .map(|logprob| token_logprob(tok, token, logprob, &sampled.top));
            let events = step(c, tok, &end, token, lp);
            for ev in events {
                if !sink(ev) {
                    out.cancelled = true;
                    break;
                }
            }
            if out.cancelled {
                break;
            }
            if !c.done {
                next.push(token);
            }
        }
        if out.cancelled {
            break;
        }
        let active: Vec<&mut Choice> = choices.iter_mut().filter(|c| !c.done).collect();
        if active.is_empty() {
            break;
        }
        let (seqs, logit_slots): (Vec<&mut SeqState>, Vec<&mut Vec<f32>>) = active
            .into_iter()
            .map(|c| (&mut c.seq, &mut c.logits))
            .unzip();
        let mut batch: Vec<BatchEntry<'_>> = seqs
            .into_iter()
            .zip(&next)
            .map(|(seq, t)| BatchEntry {
                seq,
                tokens: std::slice::from_ref(t),
            })
            .collect();
        let rows = model.forward_batch(&mut batch, Logits::Last)?;
        for (slot, row) in logit_slots.into_iter().zip(rows) {
            *slot = row;
        }
    }
    out.tokens = choices.into_iter().map(|c| c.tokens).collect();
    Ok(out)
}

/// Handles one sampled token of a choice; returns the events to send.
fn step(
    c: &mut Choice,
    tok: &Tokenizer,
    end: &EndConditions,
    token: u32,
    lp: Option<TokenLogprob>,
) -> Vec<Event> {
    let mut events = Vec::new();
    match end.check(token, c.generated) {
        Some(Finish::Stop) => {
            let tail = flush(c);
            push_delta(&mut events, c.index, tail, None);
            events.push(finish(c.index, Finish::Stop));
            c.done = true;
        }
        verdict => {
            c.tokens.push(token);
            let text = c.decoder.push(tok, token);
            match c.stop.push(&text) {
                StopOutcome::Stop { emit_before } => {
                    push_delta(&mut events, c.index, emit_before, lp);
                    events.push(finish(c.index, Finish::Stop));
                    c.done = true;
                }
                StopOutcome::Emit(s) if verdict == Some(Finish::Length) => {
                    let tail = flush(c);
                    let stopped = c.stop.is_stopped();
                    push_delta(&mut events, c.index, s + &tail, lp);
                    let why = if stopped {
                        Finish::Stop
                    } else {
                        Finish::Length
                    };
                    events.push(finish(c.index, why));
                    c.done = true;
                }
                StopOutcome::Emit(s) => push_delta(&mut events, c.index, s, lp),
            }
        }
    }
    events
}

/// The text still held by the decoder and the stop matcher at the end of a choice.
fn flush(c: &mut Choice) -> String {
    let rest = c.decoder.finish();
    match c.stop.push(&rest) {
        StopOutcome::Stop { emit_before } => emit_before,
        StopOutcome::Emit(s) => s + &c.stop.finish(),
    }
}

fn push_delta(events: &mut Vec<Event>, index: u32, text: String, lp: Option<TokenLogprob>) {
    if text.is_empty() && lp.is_none() {
        return;
    }
    events.push(Event::Delta {
        index,
        delta: Delta {
            content: (!text.is_empty()).then_some(text),
            logprobs: lp.into_iter().collect(),
            ..Delta::default()
        },
    });
}

fn finish(index: u32, f: Finish) -> Event {
    Event::Finish {
        index,
        reason: match f {
            Finish::Stop => FinishReason::Stop,
            Finish::Length => FinishReason::Length,
        },
    }
}

fn token_logprob(tok: &Tokenizer, token: u32, logprob: f32, top: &[(u32, f32)]) -> TokenLogprob {
    let entry = |id: u32| {
        let bytes = tok.token_piece(id, true).to_vec();
        (String::from_utf8_lossy(&bytes).into_owned(), bytes)
    };
    let (text, bytes) = entry(token);
    TokenLogprob {
        token: text,
        logprob,
        bytes: Some(bytes),
        top: top
            .iter()
            .map(|&(id, lp)| {
                let (token, bytes) = entry(id);
                TopLogprob {
                    token,
                    logprob: lp,
                    bytes: Some(bytes),
                }
            })
            .collect(),
    }
}
