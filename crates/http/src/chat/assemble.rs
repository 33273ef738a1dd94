//! Assembles a non-streaming completion from backend events: content,
//! reasoning and refusal text concatenated per choice, tool-call pieces
//! merged by their index, logprobs collected.

use std::collections::BTreeMap;

use switchyard_core::{Delta, FinishReason, TokenLogprob};

use super::wire::{Choice, FunctionOut, Logprobs, MessageOut, ToolCallOut, logprob_out};

#[derive(Default)]
struct ToolAcc {
    id: Option<String>,
    name: String,
    arguments: String,
}

#[derive(Default)]
struct ChoiceAcc {
    content: Option<String>,
    reasoning: Option<String>,
    refusal: Option<String>,
    tool_calls: BTreeMap<u32, ToolAcc>,
    logprobs: Vec<TokenLogprob>,
    finish: Option<FinishReason>,
}

fn append(slot: &mut Option<String>, piece: Option<String>) {
    if let Some(p) = piece {
        slot.get_or_insert_with(String::new).push_str(&p);
    }
}

/// Accumulates the choices of one completion.
#[derive(Default)]
pub struct Assembler {
    choices: BTreeMap<u32, ChoiceAcc>,
}

impl Assembler {
    pub fn delta(&mut self, index: u32, d: Delta) {
        let c = self.choices.entry(index).or_default();
        append(&mut c.content, d.content);
        append(&mut c.reasoning, d.reasoning);
        append(&mut c.refusal, d.refusal);
        for t in d.tool_calls {
            let acc = c.tool_calls.entry(t.index).or_default();
            if t.id.is_some() {
                acc.id = t.id;
            }
            if let Some(n) = t.name {
                acc.name.push_str(&n);
            }
            if let Some(a) = t.arguments {
                acc.arguments.push_str(&a);
            }
        }
        c.logprobs.extend(d.logprobs);
    }

    pub fn finish(&mut self, index: u32, reason: FinishReason) {
        self.choices.entry(index).or_default().finish = Some(reason);
    }

    /// The `choices` array: every index in `0..n` plus any other the backend
    /// used, in index order. `want_logprobs`: render `logprobs` as an object
    /// even when empty.
    pub fn into_choices(mut self, n: u32, want_logprobs: bool, id: &str) -> Vec<Choice> {
        for i in 0..n {
            self.choices.entry(i).or_default();
        }
        self.choices
            .into_iter()
            .map(|(index, c)| {
                let tool_calls: Vec<ToolCallOut> = c
                    .tool_calls
                    .into_iter()
                    .map(|(ti, t)| ToolCallOut {
                        // Upstreams always send an id; synthesize a stable one if not.
                        id: t.id.unwrap_or_else(|| format!("call_{id}_{index}_{ti}")),
                        kind: "function",
                        function: FunctionOut {
                            name: t.name,
                            arguments: t.arguments,
                        },
                    })
                    .collect();
                let content = match c.content {
                    Some(s) => Some(s),
                    None if tool_calls.is_empty() => Some(String::new()),
                    None => None,
                };
                let logprobs = (want_logprobs || !c.logprobs.is_empty()).then(|| Logprobs {
                    content: c.logprobs.iter().map(logprob_out).collect(),
                    refusal: None,
                });
                let finish_reason = c
                    .finish
                    .unwrap_or(if tool_calls.is_empty() {
                        FinishReason::Stop
                    } else {
                        FinishReason::ToolCalls
                    })
                    .as_str()
                    .to_owned();
                Choice {
                    index,
                    finish_reason,
                    logprobs,
                    message: MessageOut {
                        role: "assistant",
                        content,
                        refusal: c.refusal,
                        reasoning_content: c.reasoning,
                        tool_calls,
                    },
                }
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use switchyard_core::ToolCallDelta;

    fn text(s: &str) -> Delta {
        Delta {
            content: Some(s.into()),
            ..Delta::default()
        }
    }

    #[test]
    fn tool_call_pieces_merge_by_index() {
        let mut a = Assembler::default();
        let piece = |index, id: Option<&str>, name: Option<&str>, args: &str| Delta {
            tool_calls: vec![ToolCallDelta {
                index,
                id: id.map(Into::into),
                name: name.map(Into::into),
                arguments: Some(args.into()),
            }],
            ..Delta::default()
        };
        a.delta(0, piece(0, Some("call_a"), Some("get_weather"), "{\"ci"));
        a.delta(0, piece(1, Some("call_b"), Some("get_time"), "{}"));
        a.delta(0, piece(0, None, None, "ty\":\"Oslo\"}"));
        a.finish(0, FinishReason::ToolCalls);
        let choices = a.into_choices(1, false, "gen-1-x");
        let v = serde_json::to_value(&choices).unwrap();
        let calls = &v[0]["message"]["tool_calls"];
        assert_eq!(calls.as_array().unwrap().len(), 2);
        assert_eq!(calls[0]["id"], "call_a");
        assert_eq!(calls[0]["type"], "function");
        assert_eq!(calls[0]["function"]["name"], "get_weather");
        assert_eq!(calls[0]["function"]["arguments"], "{\"city\":\"Oslo\"}");
        assert_eq!(calls[1]["function"]["name"], "get_time");
        assert!(v[0]["message"]["content"].is_null());
        assert_eq!(v[0]["finish_reason"], "tool_calls");
    }

    #[test]
    fn choices_are_ordered_and_filled_up_to_n() {
        let mut a = Assembler::default();
        a.delta(1, text("b"));
        a.delta(0, text("a"));
        a.delta(0, text("a2"));
        a.finish(0, FinishReason::Length);
        let v = serde_json::to_value(a.into_choices(3, true, "id")).unwrap();
        assert_eq!(v.as_array().unwrap().len(), 3);
        assert_eq!(v[0]["message"]["content"], "aa2");
        assert_eq!(v[0]["finish_reason"], "length");
        assert_eq!(v[1]["message"]["content"], "b");
        assert_eq!(v[2]["message"]["content"], "");
        assert_eq!(v[2]["index"], 2);
        assert_eq!(v[0]["logprobs"]["content"], serde_json::json!([]));
        assert!(v[0]["message"].get("tool_calls").is_none());
        assert!(v[0]["message"]["refusal"].is_null());
    }
}
