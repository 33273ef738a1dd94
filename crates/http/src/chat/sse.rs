//! The streaming response body: backend events become `chat.completion.chunk`
//! server-sent events.
//!
//! [`SseBody`] owns both the backend's event stream and the request's
//! [`Accounting`]. When the client disconnects, hyper drops the body, which
//! drops the event stream (cancelling the upstream request) and the
//! accounting guard (which records what was delivered) together.

use std::{
    convert::Infallible,
    pin::Pin,
    task::{Context, Poll},
};

use bytes::{BufMut, Bytes, BytesMut};
use futures::Stream;
use serde::Serialize;
use switchyard_core::{BackendError, Delta, Event, EventStream, FinishReason};

use super::wire::{
    Chunk, ChunkChoice, ChunkUsage, DeltaOut, Head, Logprobs, UsageOut, is_content_bearing,
    logprob_out,
};
use crate::{
    ApiError,
    accounting::{Accounting, outcome},
    chat::outcome_for,
};

pub struct SseBody {
    /// `None` once the stream ended (successfully or not).
    events: Option<EventStream>,
    acct: Accounting,
    head: Head,
    include_usage: bool,
    /// Choices whose first chunk (carrying `role`) went out.
    role_sent: Vec<u32>,
}

impl SseBody {
    pub fn new(events: EventStream, acct: Accounting, head: Head, include_usage: bool) -> Self {
        SseBody {
            events: Some(events),
            acct,
            head,
            include_usage,
            role_sent: Vec::new(),
        }
    }

    fn usage_field(&self) -> ChunkUsage {
        if self.include_usage {
            ChunkUsage::Null
        } else {
            ChunkUsage::Absent
        }
    }

    /// `role` for the first chunk of a choice.
    fn role(&mut self, index: u32) -> Option<&'static str> {
        if self.role_sent.contains(&index) {
            None
        } else {
            self.role_sent.push(index);
            Some("assistant")
        }
    }

    fn delta_chunk(&mut self, index: u32, delta: &Delta) -> Option<Bytes> {
        let first = !self.role_sent.contains(&index);
        if !first && !is_content_bearing(delta) && delta.logprobs.is_empty() {
            return None;
        }
        let mut out = DeltaOut::from_delta(delta);
        out.role = self.role(index);
        if first && out.content.is_none() && out.tool_calls.is_empty() {
            out.content = Some("");
        }
        let logprobs = (!delta.logprobs.is_empty()).then(|| Logprobs {
            content: delta.logprobs.iter().map(logprob_out).collect(),
            refusal: None,
        });
        let choice = ChunkChoice {
            index,
            delta: out,
            logprobs,
            finish_reason: None,
        };
        Some(data(&Chunk::new(
            &self.head,
            vec![choice],
            self.usage_field(),
        )))
    }

    fn finish_chunk(&mut self, index: u32, reason: &FinishReason) -> Bytes {
        let delta = DeltaOut {
            role: self.role(index),
            ..DeltaOut::default()
        };
        let choice = ChunkChoice {
            index,
            delta,
            logprobs: None,
            finish_reason: Some(reason.as_str()),
        };
        data(&Chunk::new(&self.head, vec![choice], self.usage_field()))
    }

    /// Successful end: the usage chunk (if asked for), then `[DONE]`.
    fn end(&mut self) -> Bytes {
        self.events = None;
        let mut buf = BytesMut::new();
        if self.include_usage {
            let usage = UsageOut::from(&self.acct.effective_usage());
            let chunk = Chunk::new(&self.head, Vec::new(), ChunkUsage::Some(usage));
            buf.put(data(&chunk));
        }
        buf.put_slice(b"data: [DONE]\n\n");
        self.acct.finish(200, outcome::OK);
        buf.freeze()
    }

    /// Failure after the stream began: one error event, then the stream closes.
    fn fail(&mut self, e: BackendError) -> Bytes {
        self.events = None;
        let err = ApiError::from(e);
        self.acct
            .finish(err.kind.status().as_u16(), outcome_for(&err));
        data(&err.body())
    }
}

/// Formats one `data:` event.
fn data<T: Serialize>(value: &T) -> Bytes {
    let mut buf = BytesMut::with_capacity(256).writer();
    buf.get_mut().put_slice(b"data: ");
    if let Err(e) = serde_json::to_writer(&mut buf, value) {
        tracing::error!(error = %e, "could not serialize an SSE event");
    }
    let mut buf = buf.into_inner();
    buf.put_slice(b"\n\n");
    buf.freeze()
}

impl Stream for SseBody {
    type Item = Result<Bytes, Infallible>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = &mut *self;
        loop {
            let Some(events) = this.events.as_mut() else {
                return Poll::Ready(None);
            };
            let bytes = match events.as_mut().poll_next(cx) {
                Poll::Pending => return Poll::Pending,
                Poll::Ready(Some(Ok(Event::Delta { index, delta }))) => {
                    let chunk = this.delta_chunk(index, &delta);
                    if chunk.is_some() && is_content_bearing(&delta) {
                        this.acct.delivered();
                    }
                    match chunk {
                        Some(b) => b,
                        None => continue,
                    }
                }
                Poll::Ready(Some(Ok(Event::Finish { index, reason }))) => {
                    this.finish_chunk(index, &reason)
                }
                Poll::Ready(Some(Ok(Event::Usage(u)))) => {
                    // The last event of a successful stream: stop here.
                    this.acct.usage(u);
                    this.end()
                }
                Poll::Ready(Some(Err(e))) => this.fail(e),
                Poll::Ready(None) => this.end(),
            };
            return Poll::Ready(Some(Ok(bytes)));
        }
    }
}
