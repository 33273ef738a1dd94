//! Maps upstream `chat.completion.chunk` JSON (and, as a fallback, a whole
//! `chat.completion`) to backend [`Event`]s.
//!
//! Parsing is lenient about what upstreams disagree on (missing `index`,
//! `reasoning` vs `reasoning_content`, `usage: null` in every chunk, non-string
//! tool arguments) and strict about what breaks the contract (non-JSON data,
//! an `error` object).

use std::collections::BTreeSet;

use serde_json::Value;
use switchyard_core::{
    BackendError, Delta, Event, FinishReason, TokenLogprob, ToolCallDelta, TopLogprob, Usage,
};

/// The state of one upstream stream while its data events are mapped.
#[derive(Debug, Default)]
pub struct ChunkMapper {
    finished: BTreeSet<u32>,
    usage: Option<Usage>,
    content_chunks: u64,
    done: bool,
}

impl ChunkMapper {
    pub fn new() -> Self {
        Self::default()
    }

    /// Maps one SSE `data` payload, appending events to `out`.
    pub fn on_data(&mut self, data: &str, out: &mut Vec<Event>) -> Result<(), BackendError> {
        let data = data.trim();
        if data == "[DONE]" {
            self.done = true;
            return Ok(());
        }
        if data.is_empty() {
            return Ok(());
        }
        let v: Value = serde_json::from_str(data).map_err(|e| BackendError::Upstream {
            status: None,
            detail: format!("upstream sent a stream event that is not JSON: {e}"),
        })?;
        self.on_value(&v, out)
    }

    fn on_value(&mut self, v: &Value, out: &mut Vec<Event>) -> Result<(), BackendError> {
        if !v.is_object() {
            return Err(BackendError::Upstream {
                status: None,
                detail: "upstream sent a stream event that is not a JSON object".into(),
            });
        }
        if let Some(err) = v.get("error").filter(|e| !e.is_null()) {
            return Err(error_event(err));
        }
        if let Some(choices) = v.get("choices").and_then(Value::as_array) {
            for (pos, choice) in choices.iter().enumerate() {
                let index = index_of(choice, pos);
                let delta = choice.get("delta").or_else(|| choice.get("message"));
                self.on_choice(index, delta, choice, out);
            }
        }
        if let Some(u) = v.get("usage").filter(|u| u.is_object()) {
            self.usage = Some(usage(u));
        }
        Ok(())
    }

    fn on_choice(
        &mut self,
        index: u32,
        delta: Option<&Value>,
        choice: &Value,
        out: &mut Vec<Event>,
    ) {
        let mut d = delta.map(delta_from).unwrap_or_default();
        d.logprobs = choice
            .pointer("/logprobs/content")
            .and_then(Value::as_array)
            .map(|lps| lps.iter().filter_map(token_logprob).collect())
            .unwrap_or_default();
        let bears_content = d.content.is_some()
            || d.reasoning.is_some()
            || d.refusal.is_some()
            || !d.tool_calls.is_empty();
        if bears_content {
            self.content_chunks += 1;
        }
        if bears_content || !d.logprobs.is_empty() {
            out.push(Event::Delta { index, delta: d });
        }
        match choice.get("finish_reason").and_then(Value::as_str) {
            // A repeated finish for the same choice is ignored.
            Some(reason) if self.finished.insert(index) => out.push(Event::Finish {
                index,
                reason: FinishReason::parse(reason),
            }),
            _ => {}
        }
    }

    /// Whether `[DONE]` arrived.
    pub fn is_done(&self) -> bool {
        self.done
    }

    /// Whether choices `0..n` all got a `finish_reason`.
    pub fn all_finished(&self, n: u32) -> bool {
        (0..n).all(|i| self.finished.contains(&i))
    }

    /// The upstream's usage, if it sent one.
    pub fn usage(&self) -> Option<Usage> {
        self.usage
    }

    /// Number of chunks that carried content, reasoning, refusal or tool-call text.
    pub fn content_chunks(&self) -> u64 {
        self.content_chunks
    }

    /// Maps a whole non-streaming `chat.completion` body (for upstreams that
    /// ignore `stream: true`). Marks the mapper done.
    pub fn on_completion(&mut self, body: &[u8], out: &mut Vec<Event>) -> Result<(), BackendError> {
        let v: Value = serde_json::from_slice(body).map_err(|e| BackendError::Upstream {
            status: None,
            detail: format!("upstream sent a response that is not JSON: {e}"),
        })?;
        self.on_value(&v, out)?;
        self.done = true;
        Ok(())
    }
}

fn index_of(v: &Value, fallback: usize) -> u32 {
    v.get("index")
        .and_then(Value::as_u64)
        .and_then(|i| u32::try_from(i).ok())
        .unwrap_or(u32::try_from(fallback).unwrap_or(u32::MAX))
}

fn non_empty_str(v: Option<&Value>) -> Option<String> {
    v.and_then(Value::as_str)
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
}

fn delta_from(d: &Value) -> Delta {
    let tool_calls = d
        .get("tool_calls")
        .and_then(Value::as_array)
        .map(|calls| {
            calls
                .iter()
                .enumerate()
                .map(|(pos, c)| {
                    let f = c.get("function");
                    let arguments = match f.and_then(|f| f.get("arguments")) {
                        Some(Value::String(s)) => Some(s.clone()),
                        None | Some(Value::Null) => None,
                        // Some upstreams send an object; pass it on as JSON text.
                        Some(other) => Some(other.to_string()),
                    };
                    ToolCallDelta {
                        index: index_of(c, pos),
                        id: non_empty_str(c.get("id")),
                        name: non_empty_str(f.and_then(|f| f.get("name"))),
                        arguments,
                    }
                })
                .collect()
        })
        .unwrap_or_default();
    Delta {
        content: non_empty_str(d.get("content")),
        reasoning: non_empty_str(d.get("reasoning_content"))
            .or_else(|| non_empty_str(d.get("reasoning"))),
        refusal: non_empty_str(d.get("refusal")),
        tool_calls,
        logprobs: Vec::new(),
    }
}

fn bytes_of(v: &Value) -> Option<Vec<u8>> {
    v.get("bytes")?
        .as_array()?
        .iter()
        .map(|b| b.as_u64().and_then(|b| u8::try_from(b).ok()))
        .collect()
}

fn logprob_of(v: &Value) -> f32 {
    // OpenAI uses -9999.0 for "effectively impossible"; use it when missing too.
    v.get("logprob").and_then(Value::as_f64).unwrap_or(-9999.0) as f32
}

fn token_logprob(v: &Value) -> Option<TokenLogprob> {
    let token = v.get("token")?.as_str()?.to_owned();
    let top = v
        .get("top_logprobs")
        .and_then(Value::as_array)
        .map(|alts| {
            alts.iter()
                .filter_map(|a| {
                    Some(TopLogprob {
                        token: a.get("token")?.as_str()?.to_owned(),
                        logprob: logprob_of(a),
                        bytes: bytes_of(a),
                    })
                })
                .collect()
        })
        .unwrap_or_default();
    Some(TokenLogprob {
        logprob: logprob_of(v),
        bytes: bytes_of(v),
        token,
        top,
    })
}

fn count(v: &Value, pointer: &str) -> u64 {
    v.pointer(pointer).and_then(Value::as_u64).unwrap_or(0)
}

/// Parses an OpenAI `usage` object (missing counts are 0).
pub fn usage(u: &Value) -> Usage {
    Usage {
        prompt_tokens: count(u, "/prompt_tokens"),
        cached_tokens: count(u, "/prompt_tokens_details/cached_tokens"),
        completion_tokens: count(u, "/completion_tokens"),
        reasoning_tokens: count(u, "/completion_tokens_details/reasoning_tokens"),
    }
}

/// An `{"error": …}` event in the middle of a stream.
fn error_event(err: &Value) -> BackendError {
    let message = err
        .get("message")
        .and_then(Value::as_str)
        .or_else(|| err.as_str())
        .unwrap_or("no message");
    let status = err
        .get("code")
        .and_then(|c| {
            c.as_u64()
                .or_else(|| c.as_str().and_then(|s| s.parse().ok()))
        })
        .and_then(|c| u16::try_from(c).ok())
        .filter(|c| (400..=599).contains(c));
    BackendError::Upstream {
        status,
        detail: format!("upstream sent an error event mid-stream: {message}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn map(datas: &[&str]) -> (ChunkMapper, Vec<Event>) {
        let mut m = ChunkMapper::new();
        let mut out = Vec::new();
        for d in datas {
            m.on_data(d, &mut out).unwrap();
        }
        (m, out)
    }

    #[test]
    fn content_reasoning_refusal_and_finish() {
        let (m, out) = map(&[
            r#"{"choices":[{"index":0,"delta":{"role":"assistant","content":""},"finish_reason":null}],"usage":null}"#,
            r#"{"choices":[{"index":0,"delta":{"reasoning_content":"think"}}]}"#,
            r#"{"choices":[{"index":0,"delta":{"reasoning":"more"}}]}"#,
            r#"{"choices":[{"index":0,"delta":{"content":"Hi"}}]}"#,
            r#"{"choices":[{"index":1,"delta":{"refusal":"no"}}]}"#,
            r#"{"choices":[{"index":0,"delta":{},"finish_reason":"stop"}]}"#,
            r#"{"choices":[{"index":0,"delta":{},"finish_reason":"stop"}]}"#,
            r#"{"choices":[],"usage":{"prompt_tokens":9,"completion_tokens":4,"prompt_tokens_details":{"cached_tokens":3},"completion_tokens_details":{"reasoning_tokens":2}}}"#,
            "[DONE]",
        ]);
        let text = |index, f: fn(&mut Delta)| {
            let mut d = Delta::default();
            f(&mut d);
            Event::Delta { index, delta: d }
        };
        assert_eq!(
            out,
            vec![
                text(0, |d| d.reasoning = Some("think".into())),
                text(0, |d| d.reasoning = Some("more".into())),
                text(0, |d| d.content = Some("Hi".into())),
                text(1, |d| d.refusal = Some("no".into())),
                Event::Finish {
                    index: 0,
                    reason: FinishReason::Stop
                },
            ]
        );
        assert!(m.is_done());
        assert!(m.all_finished(1));
        assert!(!m.all_finished(2));
        assert_eq!(m.content_chunks(), 4);
        assert_eq!(
            m.usage(),
            Some(Usage {
                prompt_tokens: 9,
                cached_tokens: 3,
                completion_tokens: 4,
                reasoning_tokens: 2
            })
        );
    }

    #[test]
    fn tool_calls_and_logprobs() {
        let (_, out) = map(&[
            r#"{"choices":[{"delta":{"tool_calls":[{"index":0,"id":"c1","type":"function","function":{"name":"f","arguments":""}}]}}]}"#,
            r#"{"choices":[{"delta":{"tool_calls":[{"index":0,"function":{"arguments":{"a":1}}}]}}]}"#,
            r#"{"choices":[{"delta":{"content":"x"},"logprobs":{"content":[{"token":"x","logprob":-0.5,"bytes":[120],"top_logprobs":[{"token":"y","logprob":-1.5,"bytes":null}]}]}}]}"#,
        ]);
        let Event::Delta { delta, .. } = &out[0] else {
            panic!()
        };
        assert_eq!(delta.tool_calls[0].id.as_deref(), Some("c1"));
        assert_eq!(delta.tool_calls[0].name.as_deref(), Some("f"));
        assert_eq!(delta.tool_calls[0].arguments.as_deref(), Some(""));
        let Event::Delta { delta, .. } = &out[1] else {
            panic!()
        };
        assert_eq!(delta.tool_calls[0].arguments.as_deref(), Some(r#"{"a":1}"#));
        let Event::Delta { delta, .. } = &out[2] else {
            panic!()
        };
        assert_eq!(
            delta.logprobs,
            vec![TokenLogprob {
                token: "x".into(),
                logprob: -0.5,
                bytes: Some(vec![120]),
                top: vec![TopLogprob {
                    token: "y".into(),
                    logprob: -1.5,
                    bytes: None
                }],
            }]
        );
    }

    #[test]
    fn errors_and_garbage() {
        let mut m = ChunkMapper::new();
        let mut out = Vec::new();
        let e = m.on_data("not json", &mut out).unwrap_err();
        assert!(matches!(e, BackendError::Upstream { status: None, .. }));
        let e = m.on_data("[1,2]", &mut out).unwrap_err();
        assert!(matches!(e, BackendError::Upstream { status: None, .. }));
        let e = m
            .on_data(r#"{"error":{"message":"boom","code":502}}"#, &mut out)
            .unwrap_err();
        assert_eq!(
            e,
            BackendError::Upstream {
                status: Some(502),
                detail: "upstream sent an error event mid-stream: boom".into()
            }
        );
        assert!(out.is_empty());
    }

    #[test]
    fn whole_completion_fallback() {
        let mut m = ChunkMapper::new();
        let mut out = Vec::new();
        let body = br#"{"choices":[{"index":0,"message":{"role":"assistant","content":"Hello"},"finish_reason":"length"}],"usage":{"prompt_tokens":1,"completion_tokens":1}}"#;
        m.on_completion(body, &mut out).unwrap();
        assert_eq!(out.len(), 2);
        assert_eq!(
            out[1],
            Event::Finish {
                index: 0,
                reason: FinishReason::Length
            }
        );
        assert!(m.is_done());
        assert_eq!(m.usage().map(|u| u.prompt_tokens), Some(1));
    }
}
