//! Turns an upstream 2xx response into the backend's [`EventStream`].

use std::time::Duration;

use futures::StreamExt;
use switchyard_core::{BackendError, Event, EventStream, Usage};
use tokio::time::Instant;

use crate::{
    chunk::ChunkMapper,
    sse::{SseEvent, SseParser},
};

/// Largest non-streaming body accepted from an upstream that ignored `stream: true`.
const MAX_JSON_BODY: usize = 32 << 20;

/// What the stream needs besides the response.
pub(crate) struct StreamContext {
    pub provider: String,
    /// Number of choices requested; all must finish unless `[DONE]` arrives.
    pub n: u32,
    /// Characters of message text, for estimating usage when the upstream sends none.
    pub prompt_chars: u64,
    /// The first body bytes must arrive before this.
    pub first_byte_deadline: Instant,
    /// Longest wait between later chunks.
    pub idle: Duration,
}

fn upstream_error(detail: String) -> BackendError {
    BackendError::Upstream {
        status: None,
        detail,
    }
}

/// The event stream of a successful response. Dropping it drops the response,
/// which closes the upstream connection if the body is unfinished.
pub(crate) fn events(resp: reqwest::Response, ctx: StreamContext) -> EventStream {
    let is_json = resp
        .headers()
        .get(reqwest::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|ct| ct.trim_start().starts_with("application/json"));
    Box::pin(async_stream::stream! {
        let mut body = resp.bytes_stream();
        let mut parser = SseParser::new();
        let mut mapper = ChunkMapper::new();
        let mut sse: Vec<SseEvent> = Vec::new();
        let mut out: Vec<Event> = Vec::new();
        let mut json_body: Vec<u8> = Vec::new();
        let mut first = true;
        loop {
            let next = if first {
                tokio::time::timeout_at(ctx.first_byte_deadline, body.next()).await
            } else {
                tokio::time::timeout(ctx.idle, body.next()).await
            };
            let bytes = match next {
                Err(_) => {
                    let what = if first { "first byte" } else { "next chunk" };
                    yield Err(BackendError::Timeout {
                        detail: format!("provider '{}': no {what} from upstream in time", ctx.provider),
                    });
                    return;
                }
                Ok(None) => break,
                Ok(Some(Err(e))) => {
                    yield Err(upstream_error(format!(
                        "provider '{}': reading the upstream stream failed: {}", ctx.provider, e.without_url()
                    )));
                    return;
                }
                Ok(Some(Ok(bytes))) => bytes,
            };
            first = false;
            if is_json {
                if json_body.len() + bytes.len() > MAX_JSON_BODY {
                    yield Err(upstream_error(format!("provider '{}': upstream response too large", ctx.provider)));
                    return;
                }
                json_body.extend_from_slice(&bytes);
                continue;
            }
            if let Err(e) = parser.push(&bytes, &mut sse) {
                yield Err(upstream_error(format!("provider '{}': {e}", ctx.provider)));
                return;
            }
            for ev in sse.drain(..) {
                if let Err(e) = mapper.on_data(&ev.data, &mut out) {
                    yield Err(e);
                    return;
                }
                if mapper.is_done() {
                    break;
                }
            }
            for ev in out.drain(..) {
                yield Ok(ev);
            }
            if mapper.is_done() {
                break;
            }
        }
        if is_json {
            if let Err(e) = mapper.on_completion(&json_body, &mut out) {
                yield Err(e);
                return;
            }
        } else if !mapper.is_done() {
            // End of body: a last event without its blank line still counts.
            if parser.finish(&mut sse).is_ok() {
                for ev in sse.drain(..) {
                    if let Err(e) = mapper.on_data(&ev.data, &mut out) {
                        yield Err(e);
                        return;
                    }
                }
            }
        }
        for ev in out.drain(..) {
            yield Ok(ev);
        }
        if !mapper.is_done() && !mapper.all_finished(ctx.n) {
            yield Err(upstream_error(format!(
                "provider '{}': upstream stream ended before it finished (no finish_reason or [DONE])",
                ctx.provider
            )));
            return;
        }
        let usage = match mapper.usage() {
            Some(u) => u,
            None => {
                let estimate = Usage {
                    prompt_tokens: ctx.prompt_chars.div_ceil(4),
                    cached_tokens: 0,
                    completion_tokens: mapper.content_chunks(),
                    reasoning_tokens: 0,
                };
                tracing::warn!(
                    provider = %ctx.provider,
                    prompt_tokens = estimate.prompt_tokens,
                    completion_tokens = estimate.completion_tokens,
                    "upstream sent no usage; reporting an estimate"
                );
                estimate
            }
        };
        yield Ok(Event::Usage(usage));
    })
}
