//! The deterministic answer the mock derives from a request, and its JSON.

use serde_json::{Value, json};

use crate::Behaviour;

/// Reasoning words streamed by the `reasoning` model before its answer.
const REASONING_WORDS: [&str; 3] = ["Reversing", "the", "words."];
/// Refusal text of the `refuse` model.
const REFUSAL_WORDS: [&str; 4] = ["I", "cannot", "do", "that."];

/// One streamed delta of one choice (before the final `finish_reason` chunk).
#[derive(Debug, Clone)]
pub(crate) enum Piece {
    Reasoning(String),
    Content(String),
    Refusal(String),
    ToolCallStart { name: String },
    ToolArgs(String),
}

/// Everything the mock will say, derived from the request body.
#[derive(Debug, Clone)]
pub(crate) struct Answer {
    pub model: String,
    pub n: u32,
    pub pieces: Vec<Piece>,
    pub finish: &'static str,
    /// `Some(k)` when the request asked for logprobs with `top_logprobs: k`.
    pub logprobs: Option<usize>,
    pub include_usage: bool,
    pub prompt_tokens: u64,
    pub completion_tokens: u64,
}

impl Answer {
    pub fn from_request(body: &Value, behaviour: Behaviour) -> Answer {
        let model = body
            .get("model")
            .and_then(Value::as_str)
            .unwrap_or("mock-model")
            .to_owned();
        let n = body
            .get("n")
            .and_then(Value::as_u64)
            .map_or(1, |n| n.clamp(1, 16) as u32);
        let max_words = body
            .get("max_completion_tokens")
            .or_else(|| body.get("max_tokens"))
            .and_then(Value::as_u64)
            .unwrap_or(u64::MAX);
        let messages = body
            .get("messages")
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default();
        let prompt_tokens: u64 = messages
            .iter()
            .map(|m| message_text(m).split_whitespace().count() as u64)
            .sum();
        let last_user = messages
            .iter()
            .rev()
            .find(|m| m.get("role").and_then(Value::as_str) == Some("user"))
            .map(message_text)
            .unwrap_or_default();
        let first_tool = body
            .get("tools")
            .and_then(Value::as_array)
            .and_then(|t| t.first())
            .and_then(|t| t.pointer("/function/name"))
            .and_then(Value::as_str);

        let mut pieces = Vec::new();
        if behaviour == Behaviour::Reasoning {
            pieces.extend(spaced(REASONING_WORDS.iter().copied()).map(Piece::Reasoning));
        }
        let mut finish = "stop";
        if behaviour == Behaviour::Refuse {
            pieces.extend(spaced(REFUSAL_WORDS.iter().copied()).map(Piece::Refusal));
        } else if let (Some(name), true) = (first_tool, last_user.contains("call")) {
            let args = json!({ "text": last_user }).to_string();
            pieces.push(Piece::ToolCallStart {
                name: name.to_owned(),
            });
            pieces.extend(split_in_three(&args).into_iter().map(Piece::ToolArgs));
            finish = "tool_calls";
        } else {
            let mut words: Vec<&str> = last_user.split_whitespace().rev().collect();
            if words.is_empty() {
                words.push("(empty)");
            }
            if words.len() as u64 > max_words {
                words.truncate(max_words as usize);
                finish = "length";
            }
            pieces.extend(spaced(words.into_iter()).map(Piece::Content));
        }
        let per_choice = pieces
            .iter()
            .filter(|p| !matches!(p, Piece::ToolCallStart { .. }))
            .count() as u64;
        let logprobs = match body.get("logprobs").and_then(Value::as_bool) {
            Some(true) => Some(
                body.get("top_logprobs")
                    .and_then(Value::as_u64)
                    .map_or(0, |k| k.min(20) as usize),
            ),
            _ => None,
        };
        Answer {
            model,
            n,
            pieces,
            finish,
            logprobs,
            include_usage: body.pointer("/stream_options/include_usage") == Some(&json!(true)),
            prompt_tokens,
            completion_tokens: per_choice * u64::from(n),
        }
    }

    pub fn usage(&self) -> Value {
        json!({
            "prompt_tokens": self.prompt_tokens,
            "completion_tokens": self.completion_tokens,
            "total_tokens": self.prompt_tokens + self.completion_tokens,
            "prompt_tokens_details": { "cached_tokens": self.prompt_tokens / 2 },
            "completion_tokens_details": { "reasoning_tokens": self.completion_tokens / 2 },
        })
    }

    /// The `delta` (and `logprobs`) of one streamed piece of choice `choice`.
    pub fn piece_chunk(&self, choice: u32, position: usize, piece: &Piece) -> (Value, Value) {
        let delta = match piece {
            Piece::Reasoning(t) if position.is_multiple_of(2) => json!({ "reasoning_content": t }),
            Piece::Reasoning(t) => json!({ "reasoning": t }),
            Piece::Content(t) => json!({ "content": t }),
            Piece::Refusal(t) => json!({ "refusal": t }),
            Piece::ToolCallStart { name } => json!({ "tool_calls": [{
                "index": 0,
                "id": format!("call_mock_{choice}"),
                "type": "function",
                "function": { "name": name, "arguments": "" },
            }]}),
            Piece::ToolArgs(a) => json!({ "tool_calls": [{
                "index": 0,
                "function": { "arguments": a },
            }]}),
        };
        let logprobs = match (piece, self.logprobs) {
            (Piece::Content(t), Some(k)) => json!({ "content": [token_logprob(t, position, k)] }),
            _ => Value::Null,
        };
        (delta, logprobs)
    }

    /// The complete non-streaming `chat.completion` body.
    pub fn completion(&self, id: &str, created: u64) -> Value {
        let mut content = String::new();
        let mut reasoning = String::new();
        let mut refusal = String::new();
        let mut tool_name = None;
        let mut args = String::new();
        let mut lps = Vec::new();
        for (pos, p) in self.pieces.iter().enumerate() {
            match p {
                Piece::Reasoning(t) => reasoning.push_str(t),
                Piece::Content(t) => {
                    content.push_str(t);
                    if let Some(k) = self.logprobs {
                        lps.push(token_logprob(t, pos, k));
                    }
                }
                Piece::Refusal(t) => refusal.push_str(t),
                Piece::ToolCallStart { name } => tool_name = Some(name.clone()),
                Piece::ToolArgs(a) => args.push_str(a),
            }
        }
        let choices: Vec<Value> = (0..self.n)
            .map(|i| {
                let mut message = json!({
                    "role": "assistant",
                    "content": if content.is_empty() { Value::Null } else { json!(content) },
                    "refusal": if refusal.is_empty() { Value::Null } else { json!(refusal) },
                });
                if !reasoning.is_empty() {
                    message["reasoning_content"] = json!(reasoning);
                }
                if let Some(name) = &tool_name {
                    message["tool_calls"] = json!([{
                        "id": format!("call_mock_{i}"),
                        "type": "function",
                        "function": { "name": name, "arguments": args },
                    }]);
                }
                json!({
                    "index": i,
                    "message": message,
                    "logprobs": if self.logprobs.is_some() { json!({ "content": lps }) } else { Value::Null },
                    "finish_reason": self.finish,
                })
            })
            .collect();
        json!({
            "id": id,
            "object": "chat.completion",
            "created": created,
            "model": self.model,
            "system_fingerprint": "fp_mock",
            "choices": choices,
            "usage": self.usage(),
        })
    }
}

/// Text of a message: a string, or its text parts joined by spaces.
fn message_text(m: &Value) -> String {
    match m.get("content") {
        Some(Value::String(s)) => s.clone(),
        Some(Value::Array(parts)) => parts
            .iter()
            .filter_map(|p| p.get("text").and_then(Value::as_str))
            .collect::<Vec<_>>()
            .join(" "),
        _ => String::new(),
    }
}

/// Words with a leading space on all but the first, so pieces concatenate to text.
fn spaced<'a>(words: impl Iterator<Item = &'a str>) -> impl Iterator<Item = String> {
    words.enumerate().map(|(i, w)| {
        if i == 0 {
            w.to_owned()
        } else {
            format!(" {w}")
        }
    })
}

/// Splits a string into three pieces at char boundaries (some may be empty).
fn split_in_three(s: &str) -> Vec<String> {
    let chars: Vec<char> = s.chars().collect();
    let third = chars.len().div_ceil(3).max(1);
    chars
        .chunks(third)
        .map(|c| c.iter().collect::<String>())
        .collect()
}

/// A deterministic logprob entry for the token at `position`, with `k` alternatives.
fn token_logprob(token: &str, position: usize, k: usize) -> Value {
    let lp = -0.25 * (position % 5) as f64;
    let top: Vec<Value> = (0..k)
        .map(|j| {
            let t = if j == 0 {
                token.to_owned()
            } else {
                format!("alt{j}")
            };
            json!({ "token": t, "logprob": lp - j as f64, "bytes": t.as_bytes() })
        })
        .collect();
    json!({ "token": token, "logprob": lp, "bytes": token.as_bytes(), "top_logprobs": top })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reverses_words_and_counts_usage() {
        let body = json!({
            "model": "m",
            "messages": [
                {"role": "system", "content": "be brief"},
                {"role": "user", "content": [{"type": "text", "text": "one two three"}]},
            ],
            "max_tokens": 2,
            "n": 2,
        });
        let a = Answer::from_request(&body, Behaviour::Normal);
        let c = a.completion("id", 1);
        assert_eq!(c["choices"][0]["message"]["content"], "three two");
        assert_eq!(c["choices"][1]["finish_reason"], "length");
        assert_eq!(c["usage"]["prompt_tokens"], 5);
        assert_eq!(c["usage"]["completion_tokens"], 4);
        assert_eq!(c["usage"]["prompt_tokens_details"]["cached_tokens"], 2);
        assert_eq!(
            c["usage"]["completion_tokens_details"]["reasoning_tokens"],
            2
        );
    }

    #[test]
    fn tool_call_when_asked() {
        let body = json!({
            "messages": [{"role": "user", "content": "please call it"}],
            "tools": [{"type": "function", "function": {"name": "lookup"}}],
        });
        let a = Answer::from_request(&body, Behaviour::Normal);
        let c = a.completion("id", 1);
        assert_eq!(c["choices"][0]["finish_reason"], "tool_calls");
        let call = &c["choices"][0]["message"]["tool_calls"][0];
        assert_eq!(call["function"]["name"], "lookup");
        let args: Value =
            serde_json::from_str(call["function"]["arguments"].as_str().unwrap()).unwrap();
        assert_eq!(args["text"], "please call it");
    }
}
