//! Role rules, content parts and paths inside `messages`.

use serde_json::json;
use switchyard_core::{Content, ContentPart, Message, Role, ToolCall};

use super::*;

fn user_parts(parts: Value) -> Value {
    with_messages(json!([{"role": "user", "content": parts}]))
}

#[test]
fn every_role_with_string_content() {
    let v = with_messages(json!([
        {"role": "system", "content": "s", "name": "sys"},
        {"role": "developer", "content": "d"},
        {"role": "user", "content": "u", "name": "alice"},
        {"role": "assistant", "content": "a", "name": "bot", "refusal": null},
        {"role": "tool", "content": "t", "tool_call_id": "call_1", "name": null},
    ]));
    let r = ok(&v);
    let roles: Vec<Role> = r.messages.iter().map(|m| m.role).collect();
    assert_eq!(
        roles,
        [
            Role::System,
            Role::Developer,
            Role::User,
            Role::Assistant,
            Role::Tool
        ]
    );
    assert_eq!(r.messages[0].name.as_deref(), Some("sys"));
    assert_eq!(r.messages[2].name.as_deref(), Some("alice"));
    assert_eq!(r.messages[3].name.as_deref(), Some("bot"));
    assert_eq!(r.messages[4].tool_call_id.as_deref(), Some("call_1"));
    assert_eq!(r.messages[4].name, None);
    for (m, text) in r.messages.iter().zip(["s", "d", "u", "a", "t"]) {
        assert_eq!(m.content, Some(Content::Text(text.into())));
    }
}

#[test]
fn text_parts_for_every_role() {
    let parts = json!([{"type": "text", "text": "x"}, {"type": "text", "text": "y"}]);
    for role in ["system", "developer", "user", "assistant"] {
        let r = ok(&with_messages(
            json!([{"role": role, "content": parts.clone()}]),
        ));
        assert_eq!(
            r.messages[0].content,
            Some(Content::Parts(vec![
                ContentPart::Text("x".into()),
                ContentPart::Text("y".into())
            ])),
            "{role}"
        );
    }
    let r = ok(&with_messages(
        json!([{"role": "tool", "tool_call_id": "c", "content": parts}]),
    ));
    assert_eq!(
        r.messages[0].content.as_ref().map(Content::text).as_deref(),
        Some("xy")
    );
}

#[test]
fn user_part_kinds_map() {
    let r = ok(&user_parts(json!([
        {"type": "image_url", "image_url": {"url": "data:image/png;base64,AAAA"}},
        {"type": "image_url", "image_url": {"url": "https://x/y.png", "detail": "low"}},
        {"type": "input_audio", "input_audio": {"data": "AAAA", "format": "mp3"}},
        {"type": "file", "file": {"file_id": "file-1"}},
        {"type": "file", "file": {"file_data": "JVBE", "filename": "a.pdf", "file_id": null}},
    ])));
    assert_eq!(
        r.messages[0].content,
        Some(Content::Parts(vec![
            ContentPart::ImageUrl {
                url: "data:image/png;base64,AAAA".into(),
                detail: None
            },
            ContentPart::ImageUrl {
                url: "https://x/y.png".into(),
                detail: Some("low".into())
            },
            ContentPart::InputAudio {
                data: "AAAA".into(),
                format: "mp3".into()
            },
            ContentPart::File {
                file_data: None,
                filename: None,
                file_id: Some("file-1".into())
            },
            ContentPart::File {
                file_data: Some("JVBE".into()),
                filename: Some("a.pdf".into()),
                file_id: None
            },
        ]))
    );
}

#[test]
fn part_errors_name_the_full_path() {
    let text = json!({"type": "text", "text": "ok"});
    let cases = [
        (
            json!({"type": "image_url", "image_url": {}}),
            "messages[0].content[1].image_url.url",
            "missing_required_parameter",
        ),
        (
            json!({"type": "image_url", "image_url": {"url": ""}}),
            "messages[0].content[1].image_url.url",
            "invalid_value",
        ),
        (
            json!({"type": "image_url", "image_url": {"url": 5}}),
            "messages[0].content[1].image_url.url",
            "invalid_type",
        ),
        (
            json!({"type": "image_url", "image_url": {"url": "u", "detail": "ultra"}}),
            "messages[0].content[1].image_url.detail",
            "invalid_value",
        ),
        (
            json!({"type": "image_url", "image_url": {"url": "u", "size": 1}}),
            "messages[0].content[1].image_url.size",
            "unknown_parameter",
        ),
        (
            json!({"type": "image_url", "image_url": "https://x"}),
            "messages[0].content[1].image_url",
            "invalid_type",
        ),
        (
            json!({"type": "input_audio", "input_audio": {"data": "AA", "format": "ogg"}}),
            "messages[0].content[1].input_audio.format",
            "invalid_value",
        ),
        (
            json!({"type": "input_audio", "input_audio": {"data": "AA"}}),
            "messages[0].content[1].input_audio.format",
            "missing_required_parameter",
        ),
        (
            json!({"type": "file", "file": {"filename": "a.pdf"}}),
            "messages[0].content[1].file",
            "invalid_value",
        ),
        (
            json!({"type": "file", "file": {"file_data": "x", "mime": "pdf"}}),
            "messages[0].content[1].file.mime",
            "unknown_parameter",
        ),
        (
            json!({"type": "text"}),
            "messages[0].content[1].text",
            "missing_required_parameter",
        ),
        (
            json!({"type": "text", "text": 1}),
            "messages[0].content[1].text",
            "invalid_type",
        ),
        (
            json!({"type": "text", "text": "a", "cache_control": {}}),
            "messages[0].content[1].cache_control",
            "unknown_parameter",
        ),
        (
            json!({"type": "video", "video": {}}),
            "messages[0].content[1].type",
            "invalid_value",
        ),
        (
            json!({"type": "refusal", "refusal": "no"}),
            "messages[0].content[1].type",
            "invalid_value",
        ),
        (
            json!({"text": "a"}),
            "messages[0].content[1].type",
            "missing_required_parameter",
        ),
        (json!("plain"), "messages[0].content[1]", "invalid_type"),
    ];
    for (bad, param, code) in cases {
        assert_refused(&user_parts(json!([text.clone(), bad])), param, code);
    }
}

#[test]
fn non_text_parts_only_in_user_messages() {
    let image = json!({"type": "image_url", "image_url": {"url": "https://x"}});
    for (role, extra) in [
        ("system", json!({})),
        ("developer", json!({})),
        ("assistant", json!({})),
        ("tool", json!({"tool_call_id": "c"})),
    ] {
        let mut m = json!({"role": role, "content": [image.clone()]});
        for (k, v) in extra.as_object().unwrap() {
            m[k] = v.clone();
        }
        assert_refused(
            &with_messages(json!([m])),
            "messages[0].content[0].type",
            "invalid_value",
        );
    }
}

#[test]
fn role_keys_and_requirements() {
    let cases = [
        (
            json!({"role": "robot", "content": "x"}),
            "messages[0].role",
            "invalid_value",
        ),
        (
            json!({"content": "x"}),
            "messages[0].role",
            "missing_required_parameter",
        ),
        (
            json!({"role": "user"}),
            "messages[0].content",
            "missing_required_parameter",
        ),
        (
            json!({"role": "user", "content": null}),
            "messages[0].content",
            "missing_required_parameter",
        ),
        (
            json!({"role": "user", "content": []}),
            "messages[0].content",
            "invalid_value",
        ),
        (
            json!({"role": "user", "content": 5}),
            "messages[0].content",
            "invalid_type",
        ),
        (
            json!({"role": "user", "content": "x", "tool_call_id": "c"}),
            "messages[0].tool_call_id",
            "unknown_parameter",
        ),
        (
            json!({"role": "user", "content": "x", "name": 5}),
            "messages[0].name",
            "invalid_type",
        ),
        (
            json!({"role": "system", "content": "x", "refusal": "r"}),
            "messages[0].refusal",
            "unknown_parameter",
        ),
        (
            json!({"role": "developer"}),
            "messages[0].content",
            "missing_required_parameter",
        ),
        (
            json!({"role": "tool", "content": "x"}),
            "messages[0].tool_call_id",
            "missing_required_parameter",
        ),
        (
            json!({"role": "tool", "content": "x", "tool_call_id": ""}),
            "messages[0].tool_call_id",
            "invalid_value",
        ),
        (
            json!({"role": "tool", "tool_call_id": "c"}),
            "messages[0].content",
            "missing_required_parameter",
        ),
        (
            json!({"role": "assistant"}),
            "messages[0].content",
            "missing_required_parameter",
        ),
        (
            json!({"role": "assistant", "content": null, "tool_calls": []}),
            "messages[0].content",
            "missing_required_parameter",
        ),
        (
            json!({"role": "assistant", "content": "x", "audio": {"id": "a"}}),
            "messages[0].audio",
            "unknown_parameter",
        ),
        (
            json!({"role": "assistant", "content": "x", "refusal": 1}),
            "messages[0].refusal",
            "invalid_type",
        ),
        (
            json!({"role": "assistant", "content": [{"type": "text", "text": "a"}, {"type": "refusal", "refusal": "no"}]}),
            "messages[0].content[1]",
            "invalid_value",
        ),
        (json!("hello"), "messages[0]", "invalid_type"),
    ];
    for (m, param, code) in cases {
        assert_refused(&with_messages(json!([m])), param, code);
    }
    // The index in the path is the message's position.
    let v = with_messages(json!([
        {"role": "system", "content": "s"},
        {"role": "user", "content": "u"},
        {"role": "user", "content": [{"type": "image_url", "image_url": {}}]},
    ]));
    assert_refused(
        &v,
        "messages[2].content[0].image_url.url",
        "missing_required_parameter",
    );
}

#[test]
fn assistant_tool_calls_and_refusal() {
    let v = with_messages(json!([
        {"role": "user", "content": "weather?"},
        {"role": "assistant", "tool_calls": [
            {"id": "call_1", "type": "function", "function": {"name": "get_weather", "arguments": "{\"city\":\"Oslo\"}"}},
            {"id": "call_2", "type": "function", "function": {"name": "get_time", "arguments": ""}},
        ]},
        {"role": "tool", "tool_call_id": "call_1", "content": "sunny"},
        {"role": "assistant", "content": [{"type": "refusal", "refusal": "I can't."}], "refusal": "I can't."},
    ]));
    let r = ok(&v);
    assert_eq!(
        r.messages[1],
        Message {
            role: Role::Assistant,
            content: None,
            name: None,
            tool_calls: vec![
                ToolCall {
                    id: "call_1".into(),
                    name: "get_weather".into(),
                    arguments: "{\"city\":\"Oslo\"}".into()
                },
                ToolCall {
                    id: "call_2".into(),
                    name: "get_time".into(),
                    arguments: String::new()
                },
            ],
            tool_call_id: None,
            refusal: None,
        }
    );
    assert_eq!(
        r.messages[3].content,
        Some(Content::Parts(vec![ContentPart::Refusal(
            "I can't.".into()
        )]))
    );
    assert_eq!(r.messages[3].refusal.as_deref(), Some("I can't."));

    let call = |f: Value| with_messages(json!([{"role": "assistant", "tool_calls": [f]}]));
    let cases = [
        (
            json!({"type": "function", "function": {"name": "f", "arguments": "{}"}}),
            "messages[0].tool_calls[0].id",
            "missing_required_parameter",
        ),
        (
            json!({"id": "c", "type": "tool", "function": {"name": "f", "arguments": "{}"}}),
            "messages[0].tool_calls[0].type",
            "invalid_value",
        ),
        (
            json!({"id": "c", "type": "function", "function": {"name": "f"}}),
            "messages[0].tool_calls[0].function.arguments",
            "missing_required_parameter",
        ),
        (
            json!({"id": "c", "type": "function", "function": {"name": "f", "arguments": {}}}),
            "messages[0].tool_calls[0].function.arguments",
            "invalid_type",
        ),
        (
            json!({"id": "c", "type": "function", "function": {"name": "f", "arguments": "{}", "x": 1}}),
            "messages[0].tool_calls[0].function.x",
            "unknown_parameter",
        ),
        (
            json!({"id": "c", "type": "function", "function": {"name": "f", "arguments": "{}"}, "index": 0}),
            "messages[0].tool_calls[0].index",
            "unknown_parameter",
        ),
    ];
    for (f, param, code) in cases {
        assert_refused(&call(f), param, code);
    }
    assert_refused(
        &with_messages(json!([{"role": "assistant", "tool_calls": {}}])),
        "messages[0].tool_calls",
        "invalid_type",
    );
}
