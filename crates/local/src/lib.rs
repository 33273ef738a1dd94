//! The local backend: serves GGUF models through the engine.
//!
//! [`LocalBackend`] holds one [`LocalModel`] (shared weights, tokenizer, chat template) per
//! catalogue model, keyed by the target's `upstream_model`. For each request it renders the
//! chat template (text parts flattened, `add_generation_prompt`), tokenizes it, checks the
//! context length, and runs prefill and decoding on a dedicated thread that sends events
//! through a bounded channel. Dropping the stream closes the channel and generation stops at
//! the next token.
//!
//! Usage is exact: `prompt_tokens` is the length of the tokenized prompt, `completion_tokens`
//! counts every sampled token of every choice, including an end-of-generation token (as
//! llama.cpp's server counts `n_decoded`). Nothing is cached yet (`cached_tokens` 0).
//!
//! Sampling defaults are OpenAI's: temperature 1, no truncation, no penalties; temperature 0
//! is greedy. Tools, `response_format` and `prediction` are refused with 400 for now.

mod error;
pub mod fixture;
mod generate;
mod model;

pub use error::LocalError;
pub use generate::{GenerateOptions, Generation, generate};
pub use model::{LoadOptions, LocalModel};

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use switchyard_core::{
    Backend, BackendError, ChatRequest, Event, EventStream, ModelTarget, ResponseFormat, Sampling,
    Usage,
};
use switchyard_engine::sampler::SamplingParams;

/// Events buffered between the engine thread and the client.
const CHANNEL_CAPACITY: usize = 32;

/// The `local` backend.
#[derive(Debug, Default)]
pub struct LocalBackend {
    name: String,
    models: HashMap<String, Arc<LocalModel>>,
    active: Arc<AtomicUsize>,
}

impl LocalBackend {
    /// An empty backend registered under the provider name `name` (usually `local`).
    pub fn new(name: impl Into<String>) -> Self {
        LocalBackend {
            name: name.into(),
            ..LocalBackend::default()
        }
    }

    /// Serves `model` for targets whose `upstream_model` is `key`.
    pub fn insert(
        &mut self,
        key: impl Into<String>,
        model: Arc<LocalModel>,
    ) -> Result<(), LocalError> {
        let key = key.into();
        if self.models.contains_key(&key) {
            return Err(LocalError::Duplicate(key));
        }
        self.models.insert(key, model);
        Ok(())
    }

    /// The model served under `key`.
    pub fn model(&self, key: &str) -> Option<&Arc<LocalModel>> {
        self.models.get(key)
    }

    /// Generations currently running (their threads have not finished).
    pub fn active_generations(&self) -> usize {
        self.active.load(Ordering::SeqCst)
    }
}

fn invalid(param: &str, code: Option<&str>, message: String) -> BackendError {
    BackendError::InvalidRequest {
        param: Some(param.to_string()),
        code: code.map(str::to_string),
        message,
    }
}

/// Refuses what the engine cannot do yet, naming the parameter.
fn check_supported(req: &ChatRequest) -> Result<(), BackendError> {
    let refuse = |param: &str, what: &str| {
        Err(invalid(
            param,
            Some("unsupported_parameter"),
            format!("`{param}` ({what}) is not supported by the local engine yet."),
        ))
    };
    if !req.tools.is_empty() {
        return refuse("tools", "tool calling");
    }
    match &req.response_format {
        Some(ResponseFormat::JsonSchema { .. }) => {
            return refuse("response_format", "json_schema structured output");
        }
        Some(ResponseFormat::JsonObject) => return refuse("response_format", "JSON mode"),
        _ => {}
    }
    if req.prediction.is_some() {
        return refuse("prediction", "predicted outputs");
    }
    Ok(())
}

/// The engine's parameters for a request's sampling fields (unset fields: OpenAI's defaults).
pub fn sampling_params(s: &Sampling, logprobs: Option<u8>) -> SamplingParams {
    let d = SamplingParams::default();
    SamplingParams {
        temperature: s.temperature.unwrap_or(d.temperature),
        top_p: s.top_p.unwrap_or(d.top_p),
        top_k: s.top_k.unwrap_or(d.top_k),
        min_p: s.min_p.unwrap_or(d.min_p),
        top_a: s.top_a.unwrap_or(d.top_a),
        repetition_penalty: s.repetition_penalty.unwrap_or(d.repetition_penalty),
        repeat_last_n: d.repeat_last_n,
        frequency_penalty: s.frequency_penalty.unwrap_or(d.frequency_penalty),
        presence_penalty: s.presence_penalty.unwrap_or(d.presence_penalty),
        seed: s.seed,
        logit_bias: s.logit_bias.clone(),
        logprobs,
    }
}

/// Decrements the running-generation count when the engine thread ends, however it ends.
struct ActiveGuard(Arc<AtomicUsize>);

impl Drop for ActiveGuard {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

#[async_trait::async_trait]
impl Backend for LocalBackend {
    fn name(&self) -> &str {
        &self.name
    }

    async fn chat(
        &self,
        target: &ModelTarget,
        req: &ChatRequest,
    ) -> Result<EventStream, BackendError> {
        let lm = self
            .models
            .get(&target.upstream_model)
            .cloned()
            .ok_or_else(|| BackendError::NotConfigured {
                message: format!("The local model `{}` is not loaded.", target.model_id),
            })?;
        check_supported(req)?;
        let rendered = lm
            .render_chat(&req.messages)
            .map_err(|e| invalid("messages", None, format!("The chat template failed: {e}")))?;
        let prompt = lm
            .encode_chat(&rendered)
            .map_err(|e| BackendError::Internal {
                detail: format!("tokenizing the prompt: {e}"),
            })?;
        let ctx = target
            .context_length
            .map_or(usize::MAX, |c| c as usize)
            .min(lm.context_length());
        let (p, m) = (prompt.len(), req.max_tokens as usize);
        if p >= ctx || p + m > ctx {
            let param = if p >= ctx { "messages" } else { "max_tokens" };
            return Err(invalid(
                param,
                Some("context_length_exceeded"),
                format!(
                    "This model's maximum context length is {ctx} tokens. However, you requested {} tokens ({p} in the messages, {m} in the completion). Please reduce the length of the messages or the completion.",
                    p + m
                ),
            ));
        }
        let sampling = sampling_params(&req.sampling, req.logprobs);
        sampling
            .validate(lm.model().n_vocab())
            .map_err(|e| invalid("logit_bias", None, e.to_string()))?;
        let opts = GenerateOptions {
            sampling,
            max_tokens: req.max_tokens,
            n: req.n.max(1),
            stop: req.stop.clone(),
            ignore_eos: false,
        };
        let (tx, mut rx) = tokio::sync::mpsc::channel(CHANNEL_CAPACITY);
        self.active.fetch_add(1, Ordering::SeqCst);
        let guard = ActiveGuard(self.active.clone());
        std::thread::Builder::new()
            .name("local-generate".into())
            .spawn(move || {
                let _guard = guard;
                let mut sink = |ev: Event| tx.blocking_send(Ok(ev)).is_ok();
                match generate(&lm, &prompt, &opts, &mut sink) {
                    Ok(g) if !g.cancelled => {
                        let usage = Usage {
                            prompt_tokens: g.prompt_tokens as u64,
                            cached_tokens: 0,
                            completion_tokens: g.completion_tokens as u64,
                            reasoning_tokens: 0,
                        };
                        let _ = tx.blocking_send(Ok(Event::Usage(usage)));
                    }
                    Ok(_) => tracing::debug!("local generation cancelled: client gone"),
                    Err(e) => {
                        let _ = tx.blocking_send(Err(BackendError::Internal {
                            detail: format!("engine: {e}"),
                        }));
                    }
                }
            })
            .map_err(|e| BackendError::Unavailable {
                detail: format!("cannot start a generation thread: {e}"),
                retry_after: None,
            })?;
        Ok(Box::pin(futures::stream::poll_fn(move |cx| {
            rx.poll_recv(cx)
        })))
    }
}
