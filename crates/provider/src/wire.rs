//! The upstream request body, built from a validated [`ChatRequest`].
//!
//! Only fields the caller set are forwarded (plus `max_tokens`, which always
//! carries the effective budget, so the upstream honours our default of 512).
//! The stream is always requested with usage; the HTTP layer assembles
//! non-streaming responses from the events.

use serde_json::{Map, Value, json};
use switchyard_core::{
    ChatRequest, Content, ContentPart, Message, ModelTarget, ResponseFormat, Tool, ToolChoice,
};

/// The JSON body to POST to `{base_url}/chat/completions`.
pub fn request_body(target: &ModelTarget, req: &ChatRequest) -> Value {
    let mut b = Map::new();
    b.insert("model".into(), json!(target.upstream_model));
    b.insert(
        "messages".into(),
        Value::Array(req.messages.iter().map(message).collect()),
    );
    b.insert("stream".into(), json!(true));
    b.insert("stream_options".into(), json!({ "include_usage": true }));
    b.insert("max_tokens".into(), json!(req.max_tokens));
    if req.n != 1 {
        b.insert("n".into(), json!(req.n));
    }

    let s = &req.sampling;
    let floats = [
        ("temperature", s.temperature),
        ("top_p", s.top_p),
        ("min_p", s.min_p),
        ("top_a", s.top_a),
        ("repetition_penalty", s.repetition_penalty),
        ("frequency_penalty", s.frequency_penalty),
        ("presence_penalty", s.presence_penalty),
    ];
    for (key, value) in floats {
        if let Some(v) = value {
            b.insert(key.into(), float(v));
        }
    }
    if let Some(k) = s.top_k {
        b.insert("top_k".into(), json!(k));
    }
    if let Some(seed) = s.seed {
        b.insert("seed".into(), json!(seed));
    }
    if !s.logit_bias.is_empty() {
        let bias: Map<String, Value> = s
            .logit_bias
            .iter()
            .map(|(token, bias)| (token.to_string(), float(*bias)))
            .collect();
        b.insert("logit_bias".into(), Value::Object(bias));
    }
    if !req.stop.is_empty() {
        b.insert("stop".into(), json!(req.stop));
    }
    if let Some(k) = req.logprobs {
        b.insert("logprobs".into(), json!(true));
        if k > 0 {
            b.insert("top_logprobs".into(), json!(k));
        }
    }
    if !req.tools.is_empty() {
        b.insert(
            "tools".into(),
            Value::Array(req.tools.iter().map(tool).collect()),
        );
    }
    if let Some(choice) = &req.tool_choice {
        let v = match choice {
            ToolChoice::None => json!("none"),
            ToolChoice::Auto => json!("auto"),
            ToolChoice::Required => json!("required"),
            ToolChoice::Function(name) => {
                json!({ "type": "function", "function": { "name": name } })
            }
        };
        b.insert("tool_choice".into(), v);
    }
    if let Some(p) = req.parallel_tool_calls {
        b.insert("parallel_tool_calls".into(), json!(p));
    }
    if let Some(rf) = &req.response_format {
        b.insert("response_format".into(), response_format(rf));
    }
    if let Some(p) = &req.prediction {
        b.insert(
            "prediction".into(),
            json!({ "type": "content", "content": p }),
        );
    }
    let o = &req.options;
    if let Some(user) = &o.user {
        b.insert("user".into(), json!(user));
    }
    if let Some(effort) = o.reasoning_effort {
        b.insert("reasoning_effort".into(), json!(effort.as_str()));
    }
    if let Some(tier) = &o.service_tier {
        b.insert("service_tier".into(), json!(tier));
    }
    Value::Object(b)
}

/// An `f32` as the shortest decimal that reads back as the same `f32`
/// (so `0.7` goes out as `0.7`, not `0.699999988079071`).
fn float(v: f32) -> Value {
    v.to_string()
        .parse::<f64>()
        .ok()
        .and_then(serde_json::Number::from_f64)
        .map_or(Value::Null, Value::Number)
}

fn message(m: &Message) -> Value {
    let mut o = Map::new();
    o.insert("role".into(), json!(m.role.as_str()));
    let content = match &m.content {
        None => Value::Null,
        Some(Content::Text(t)) => json!(t),
        Some(Content::Parts(parts)) => Value::Array(parts.iter().map(part).collect()),
    };
    o.insert("content".into(), content);
    if let Some(name) = &m.name {
        o.insert("name".into(), json!(name));
    }
    if !m.tool_calls.is_empty() {
        let calls: Vec<Value> = m
            .tool_calls
            .iter()
            .map(|c| {
                json!({
                    "id": c.id,
                    "type": "function",
                    "function": { "name": c.name, "arguments": c.arguments },
                })
            })
            .collect();
        o.insert("tool_calls".into(), Value::Array(calls));
    }
    if let Some(id) = &m.tool_call_id {
        o.insert("tool_call_id".into(), json!(id));
    }
    if let Some(r) = &m.refusal {
        o.insert("refusal".into(), json!(r));
    }
    Value::Object(o)
}

fn part(p: &ContentPart) -> Value {
    match p {
        ContentPart::Text(t) => json!({ "type": "text", "text": t }),
        ContentPart::ImageUrl { url, detail } => {
            let mut img = Map::new();
            img.insert("url".into(), json!(url));
            if let Some(d) = detail {
                img.insert("detail".into(), json!(d));
            }
            json!({ "type": "image_url", "image_url": img })
        }
        ContentPart::InputAudio { data, format } => {
            json!({ "type": "input_audio", "input_audio": { "data": data, "format": format } })
        }
        ContentPart::File {
            file_data,
            filename,
            file_id,
        } => {
            let mut f = Map::new();
            for (k, v) in [
                ("file_data", file_data),
                ("filename", filename),
                ("file_id", file_id),
            ] {
                if let Some(v) = v {
                    f.insert(k.into(), json!(v));
                }
            }
            json!({ "type": "file", "file": f })
        }
        ContentPart::Refusal(r) => json!({ "type": "refusal", "refusal": r }),
    }
}

fn tool(t: &Tool) -> Value {
    let mut f = Map::new();
    f.insert("name".into(), json!(t.name));
    if let Some(d) = &t.description {
        f.insert("description".into(), json!(d));
    }
    if let Some(p) = &t.parameters {
        f.insert("parameters".into(), p.clone());
    }
    if let Some(s) = t.strict {
        f.insert("strict".into(), json!(s));
    }
    json!({ "type": "function", "function": f })
}

fn response_format(rf: &ResponseFormat) -> Value {
    match rf {
        ResponseFormat::Text => json!({ "type": "text" }),
        ResponseFormat::JsonObject => json!({ "type": "json_object" }),
        ResponseFormat::JsonSchema {
            name,
            description,
            schema,
            strict,
        } => {
            let mut s = Map::new();
            s.insert("name".into(), json!(name));
            if let Some(d) = description {
                s.insert("description".into(), json!(d));
            }
            if let Some(schema) = schema {
                s.insert("schema".into(), schema.clone());
            }
            if let Some(strict) = strict {
                s.insert("strict".into(), json!(strict));
            }
            json!({ "type": "json_schema", "json_schema": s })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use switchyard_core::{Capabilities, ReasoningEffort, Role, ToolCall};

    fn target() -> ModelTarget {
        ModelTarget {
            model_id: "x-ai/grok-beta".into(),
            upstream_model: "grok-beta".into(),
            context_length: None,
            capabilities: Capabilities::default(),
        }
    }

    #[test]
    fn minimal_request_forwards_only_what_is_set() {
        let req = ChatRequest::new("x-ai/grok-beta", vec![Message::text(Role::User, "hi")]);
        let b = request_body(&target(), &req);
        assert_eq!(
            b,
            json!({
                "model": "grok-beta",
                "messages": [{"role": "user", "content": "hi"}],
                "stream": true,
                "stream_options": {"include_usage": true},
                "max_tokens": 512,
            })
        );
    }

    #[test]
    fn every_field_is_mapped() {
        let mut req = ChatRequest::new(
            "x",
            vec![
                Message::text(Role::Developer, "dev"),
                Message {
                    role: Role::User,
                    content: Some(Content::Parts(vec![
                        ContentPart::Text("look".into()),
                        ContentPart::ImageUrl {
                            url: "https://e/x.png".into(),
                            detail: Some("low".into()),
                        },
                        ContentPart::InputAudio {
                            data: "AAAA".into(),
                            format: "wav".into(),
                        },
                        ContentPart::File {
                            file_data: Some("JVBER".into()),
                            filename: Some("a.pdf".into()),
                            file_id: None,
                        },
                    ])),
                    name: Some("bob".into()),
                    tool_calls: vec![],
                    tool_call_id: None,
                    refusal: None,
                },
                Message {
                    role: Role::Assistant,
                    content: None,
                    name: None,
                    tool_calls: vec![ToolCall {
                        id: "call_1".into(),
                        name: "f".into(),
                        arguments: "{}".into(),
                    }],
                    tool_call_id: None,
                    refusal: None,
                },
                Message {
                    tool_call_id: Some("call_1".into()),
                    ..Message::text(Role::Tool, "42")
                },
            ],
        );
        req.max_tokens = 100;
        req.n = 2;
        req.sampling.temperature = Some(0.7);
        req.sampling.top_k = Some(40);
        req.sampling.min_p = Some(0.05);
        req.sampling.repetition_penalty = Some(1.1);
        req.sampling.seed = Some(7);
        req.sampling.logit_bias = vec![(50256, -100.0)];
        req.stop = vec!["END".into()];
        req.logprobs = Some(3);
        req.tools = vec![Tool {
            name: "f".into(),
            description: Some("d".into()),
            parameters: Some(json!({"type": "object"})),
            strict: Some(true),
        }];
        req.tool_choice = Some(ToolChoice::Function("f".into()));
        req.parallel_tool_calls = Some(false);
        req.response_format = Some(ResponseFormat::JsonSchema {
            name: "s".into(),
            description: None,
            schema: Some(json!({"type": "object"})),
            strict: Some(true),
        });
        req.prediction = Some("pred".into());
        req.options.user = Some("u1".into());
        req.options.reasoning_effort = Some(ReasoningEffort::High);
        req.options.service_tier = Some("auto".into());
        req.options.store = Some(true);
        let b = request_body(&target(), &req);
        assert_eq!(b["temperature"], json!(0.7));
        assert_eq!(b["top_k"], 40);
        assert_eq!(b["min_p"], json!(0.05));
        assert_eq!(b["repetition_penalty"], json!(1.1));
        assert_eq!(b["seed"], 7);
        assert_eq!(b["logit_bias"], json!({"50256": -100.0}));
        assert_eq!(b["stop"], json!(["END"]));
        assert_eq!(b["logprobs"], true);
        assert_eq!(b["top_logprobs"], 3);
        assert_eq!(b["n"], 2);
        assert_eq!(b["max_tokens"], 100);
        assert_eq!(b["tools"][0]["function"]["strict"], true);
        assert_eq!(b["tool_choice"]["function"]["name"], "f");
        assert_eq!(b["parallel_tool_calls"], false);
        assert_eq!(b["response_format"]["json_schema"]["name"], "s");
        assert_eq!(b["prediction"]["content"], "pred");
        assert_eq!(b["user"], "u1");
        assert_eq!(b["reasoning_effort"], "high");
        assert_eq!(b["service_tier"], "auto");
        assert!(b.get("store").is_none(), "store is never forwarded");
        assert!(b.get("top_p").is_none(), "unset fields are not forwarded");
        let m = &b["messages"];
        assert_eq!(m[0]["role"], "developer");
        assert_eq!(m[1]["name"], "bob");
        assert_eq!(m[1]["content"][1]["image_url"]["detail"], "low");
        assert_eq!(m[1]["content"][2]["input_audio"]["format"], "wav");
        assert_eq!(m[1]["content"][3]["file"]["filename"], "a.pdf");
        assert!(m[1]["content"][3]["file"].get("file_id").is_none());
        assert_eq!(m[2]["content"], Value::Null);
        assert_eq!(m[2]["tool_calls"][0]["function"]["arguments"], "{}");
        assert_eq!(m[3]["tool_call_id"], "call_1");
    }
}
