//! One request carrying every accepted field, mapped field by field.

use serde_json::json;
use switchyard_core::{
    Content, ContentPart, Message, Options, ReasoningEffort, ResponseFormat, Role, Sampling, Tool,
    ToolCall, ToolChoice,
};

use super::*;

#[test]
fn every_field_is_accepted_and_mapped() {
    let body = json!({
        "model": "x-ai/grok-beta",
        "messages": [
            {"role": "system", "content": "sys", "name": "s"},
            {"role": "developer", "content": [{"type": "text", "text": "dev"}]},
            {"role": "user", "name": "u", "content": [
                {"type": "text", "text": "look"},
                {"type": "image_url", "image_url": {"url": "https://x/y.png", "detail": "high"}},
                {"type": "input_audio", "input_audio": {"data": "UklGRg==", "format": "wav"}},
                {"type": "file", "file": {"file_data": "JVBERi0=", "filename": "a.pdf"}}
            ]},
            {"role": "assistant", "content": null, "tool_calls": [
                {"id": "call_1", "type": "function", "function": {"name": "get_weather", "arguments": "{\"city\":\"Oslo\"}"}}
            ]},
            {"role": "tool", "tool_call_id": "call_1", "content": "sunny"},
            {"role": "assistant", "content": "It is sunny.", "name": "bot", "refusal": null}
        ],
        "max_tokens": 100,
        "max_completion_tokens": 200,
        "stream": true,
        "stream_options": {"include_usage": true},
        "temperature": 0.5,
        "top_p": 0.9,
        "seed": 42,
        "min_p": 0.05,
        "top_k": 40,
        "repetition_penalty": 1.1,
        "top_a": 0.2,
        "frequency_penalty": 0.3,
        "prediction": {"type": "content", "content": [{"type": "text", "text": "ab"}, {"type": "text", "text": "c"}]},
        "presence_penalty": -0.4,
        "tools": [{"type": "function", "function": {
            "name": "get_weather", "description": "Weather by city",
            "parameters": {"type": "object", "properties": {"city": {"type": "string"}}},
            "strict": true, "required": ["city"]
        }}],
        "tool_choice": {"type": "function", "function": {"name": "get_weather"}},
        "parallel_tool_calls": false,
        "stop": ["\n\n", "END"],
        "logprobs": true,
        "top_logprobs": 5,
        "n": 2,
        "logit_bias": {"50256": -100, "12": 5.5},
        "response_format": {"type": "json_schema", "json_schema": {
            "name": "answer", "description": "An answer", "schema": {"type": "object"}, "strict": true
        }},
        "user": "user-1",
        "metadata": {"b": "2", "a": "1"},
        "store": false,
        "service_tier": "flex",
        "modalities": ["text", "audio"],
        "audio": {"voice": "alloy", "format": "mp3"},
        "reasoning_effort": "low",
        "web_search_options": {"search_context_size": "low", "user_location": {"type": "approximate", "approximate": {"city": "Oslo", "country": "NO"}}}
    });
    let got = parse_chat_request(
        Some("application/json; charset=utf-8"),
        body.to_string().as_bytes(),
    )
    .unwrap();

    let expected = ChatRequest {
        model: "x-ai/grok-beta".into(),
        messages: vec![
            Message {
                name: Some("s".into()),
                ..Message::text(Role::System, "sys")
            },
            Message {
                content: Some(Content::Parts(vec![ContentPart::Text("dev".into())])),
                ..Message::text(Role::Developer, "")
            },
            Message {
                role: Role::User,
                content: Some(Content::Parts(vec![
                    ContentPart::Text("look".into()),
                    ContentPart::ImageUrl {
                        url: "https://x/y.png".into(),
                        detail: Some("high".into()),
                    },
                    ContentPart::InputAudio {
                        data: "UklGRg==".into(),
                        format: "wav".into(),
                    },
                    ContentPart::File {
                        file_data: Some("JVBERi0=".into()),
                        filename: Some("a.pdf".into()),
                        file_id: None,
                    },
                ])),
                name: Some("u".into()),
                tool_calls: vec![],
                tool_call_id: None,
                refusal: None,
            },
            Message {
                content: None,
                tool_calls: vec![ToolCall {
                    id: "call_1".into(),
                    name: "get_weather".into(),
                    arguments: "{\"city\":\"Oslo\"}".into(),
                }],
                ..Message::text(Role::Assistant, "")
            },
            Message {
                tool_call_id: Some("call_1".into()),
                ..Message::text(Role::Tool, "sunny")
            },
            Message {
                name: Some("bot".into()),
                ..Message::text(Role::Assistant, "It is sunny.")
            },
        ],
        max_tokens: 200,
        n: 2,
        stream: true,
        include_usage: true,
        sampling: Sampling {
            temperature: Some(0.5),
            top_p: Some(0.9),
            top_k: Some(40),
            min_p: Some(0.05),
            top_a: Some(0.2),
            repetition_penalty: Some(1.1),
            frequency_penalty: Some(0.3),
            presence_penalty: Some(-0.4),
            seed: Some(42),
            logit_bias: vec![(12, 5.5), (50256, -100.0)],
        },
        stop: vec!["\n\n".into(), "END".into()],
        logprobs: Some(5),
        tools: vec![Tool {
            name: "get_weather".into(),
            description: Some("Weather by city".into()),
            parameters: Some(
                json!({"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}),
            ),
            strict: Some(true),
        }],
        tool_choice: Some(ToolChoice::Function("get_weather".into())),
        parallel_tool_calls: Some(false),
        response_format: Some(ResponseFormat::JsonSchema {
            name: "answer".into(),
            description: Some("An answer".into()),
            schema: Some(json!({"type": "object"})),
            strict: Some(true),
        }),
        prediction: Some("abc".into()),
        options: Options {
            audio_output: true,
            web_search: true,
            reasoning_effort: Some(ReasoningEffort::Low),
            service_tier: Some("flex".into()),
            store: Some(false),
            metadata: vec![("b".into(), "2".into()), ("a".into(), "1".into())],
            user: Some("user-1".into()),
        },
    };
    assert_eq!(got, expected);
}

#[test]
fn the_seed_page_example_is_accepted() {
    // The minimal request shape from the reference page.
    let body = r#"{"model":"x-ai/grok-beta","messages":[{"role":"user","content":"Hello"}]}"#;
    let r = parse_chat_request(Some("application/json"), body.as_bytes()).unwrap();
    assert_eq!(
        r,
        ChatRequest::new("x-ai/grok-beta", vec![Message::text(Role::User, "Hello")])
    );
}
