//! Content type, JSON syntax, the top-level object and unknown fields.

use serde_json::json;

use super::*;

const BODY: &str = r#"{"model":"m","messages":[{"role":"user","content":"hi"}]}"#;

#[test]
fn content_types() {
    let accepted = [
        "application/json",
        "application/json; charset=utf-8",
        "Application/JSON",
        " application/json ;charset=UTF-8",
    ];
    for ct in accepted {
        let r = parse_chat_request(Some(ct), BODY.as_bytes());
        assert!(r.is_ok(), "{ct}: {r:?}");
    }
    let refused = [
        Some("text/plain"),
        Some("application/jsonx"),
        Some("application/x-www-form-urlencoded"),
        Some(""),
        None,
    ];
    for ct in refused {
        let e = parse_chat_request(ct, BODY.as_bytes()).unwrap_err();
        assert_eq!(e.kind, ErrorKind::InvalidRequest, "{ct:?}");
        assert_eq!(e.kind.status().as_u16(), 400);
        assert_eq!(
            e.code.as_deref(),
            Some("unsupported_content_type"),
            "{ct:?}"
        );
        assert!(e.message.contains("application/json"), "{}", e.message);
    }
}

#[test]
fn bad_json_reports_line_and_column() {
    let cases: &[(&str, &str)] = &[
        (
            "{\"model\": \"m\",\n  \"messages\": [,]}",
            "line 2, column 16",
        ),
        ("{\"model\": \"m\"", "line 1, column 13"),
        ("", "line 1, column 0"),
        (
            "{\"model\": \"m\"} trailing",
            "trailing characters at line 1, column 16",
        ),
    ];
    for (body, position) in cases {
        let e = parse_chat_request(Some("application/json"), body.as_bytes()).unwrap_err();
        assert_eq!(e.kind, ErrorKind::InvalidRequest);
        assert_eq!(e.code.as_deref(), Some("invalid_json"), "{body}");
        assert!(e.message.contains(position), "{body:?}: {}", e.message);
        assert_eq!(e.param, None);
    }
}

#[test]
fn non_utf8_body_is_invalid_json() {
    let e = parse_chat_request(Some("application/json"), b"{\"model\": \"\xff\"}").unwrap_err();
    assert_eq!(e.code.as_deref(), Some("invalid_json"));
}

#[test]
fn top_level_must_be_an_object() {
    for body in ["[]", "\"hi\"", "42", "null", "true"] {
        let e = parse_chat_request(Some("application/json"), body.as_bytes()).unwrap_err();
        assert_eq!(e.kind, ErrorKind::InvalidRequest, "{body}");
        assert_eq!(e.code.as_deref(), Some("invalid_type"), "{body}");
        assert!(e.message.contains("JSON object"), "{}", e.message);
    }
}

#[test]
fn unknown_top_level_fields_are_named() {
    for field in ["temprature", "foo", "max_output_tokens", "Model", ""] {
        assert_refused(&with(field, json!(1)), field, "unknown_parameter");
    }
}

#[test]
fn model_and_messages_are_required() {
    let mut v = base();
    v.as_object_mut().unwrap().remove("model");
    assert_refused(&v, "model", "missing_required_parameter");
    assert_refused(
        &with("model", Value::Null),
        "model",
        "missing_required_parameter",
    );
    assert_refused(&with("model", json!("")), "model", "invalid_value");
    assert_refused(&with("model", json!(7)), "model", "invalid_type");

    let mut v = base();
    v.as_object_mut().unwrap().remove("messages");
    assert_refused(&v, "messages", "missing_required_parameter");
    assert_refused(&with("messages", json!([])), "messages", "invalid_value");
    assert_refused(&with("messages", json!("hi")), "messages", "invalid_type");
}

#[test]
fn null_means_absent_for_every_optional_field() {
    let optional = [
        "max_completion_tokens",
        "max_tokens",
        "stream",
        "stream_options",
        "temperature",
        "top_p",
        "seed",
        "min_p",
        "top_k",
        "repetition_penalty",
        "top_a",
        "frequency_penalty",
        "prediction",
        "presence_penalty",
        "tools",
        "tool_choice",
        "parallel_tool_calls",
        "stop",
        "logprobs",
        "top_logprobs",
        "n",
        "logit_bias",
        "response_format",
        "user",
        "safety_identifier",
        "metadata",
        "store",
        "service_tier",
        "modalities",
        "audio",
        "reasoning_effort",
        "web_search_options",
        "functions",
        "function_call",
    ];
    let expected = ok(&base());
    assert_eq!(
        expected,
        ChatRequest::new(
            "x-ai/grok-beta",
            vec![switchyard_core::Message::text(
                switchyard_core::Role::User,
                "hi"
            )]
        )
    );
    let mut all = base();
    for key in optional {
        assert_eq!(ok(&with(key, Value::Null)), expected, "{key}: null");
        all[key] = Value::Null;
    }
    assert_eq!(ok(&all), expected, "all null at once");
    // Every top-level field the validator accepts is in this list (or required).
    for key in super::super::TOP_LEVEL {
        assert!(
            optional.contains(key) || ["model", "messages"].contains(key),
            "{key}"
        );
    }
}

#[test]
fn wrong_types_name_the_field() {
    let cases = [
        ("temperature", json!("hot"), "must be a number"),
        ("top_p", json!(true), "must be a number"),
        ("seed", json!("1"), "must be an integer"),
        ("max_tokens", json!([5]), "must be an integer"),
        ("stream", json!("yes"), "must be a boolean"),
        ("store", json!(1), "must be a boolean"),
        ("logprobs", json!("true"), "must be a boolean"),
        ("parallel_tool_calls", json!(0), "must be a boolean"),
        ("stop", json!(5), "must be a string or an array of strings"),
        ("tools", json!({}), "must be an array"),
        ("metadata", json!([]), "must be an object"),
        ("logit_bias", json!([1]), "must be an object"),
        ("response_format", json!("json_object"), "must be an object"),
        ("user", json!(5), "must be a string"),
        ("modalities", json!("text"), "must be an array"),
        ("web_search_options", json!(true), "must be an object"),
        ("tool_choice", json!(1), "must be a string or an object"),
        ("prediction", json!("text"), "must be an object"),
    ];
    for (key, value, text) in cases {
        let e = err(&with(key, value));
        assert_eq!(e.param.as_deref(), Some(key), "{e:?}");
        assert_eq!(e.code.as_deref(), Some("invalid_type"), "{key}: {e:?}");
        assert!(e.message.contains(text), "{key}: {}", e.message);
    }
}

#[test]
fn bad_enum_values_are_named() {
    let cases = [
        ("service_tier", json!("turbo"), "service_tier"),
        ("reasoning_effort", json!("extreme"), "reasoning_effort"),
        ("modalities", json!(["text", "video"]), "modalities[1]"),
        (
            "response_format",
            json!({"type": "xml"}),
            "response_format.type",
        ),
        ("tool_choice", json!("sometimes"), "tool_choice"),
        (
            "web_search_options",
            json!({"search_context_size": "huge"}),
            "web_search_options.search_context_size",
        ),
        (
            "prediction",
            json!({"type": "diff", "content": "x"}),
            "prediction.type",
        ),
    ];
    for (key, value, param) in cases {
        let e = err(&with(key, value));
        assert_eq!(e.param.as_deref(), Some(param), "{e:?}");
        assert_eq!(e.code.as_deref(), Some("invalid_value"), "{e:?}");
    }
    let v =
        with_all(json!({"modalities": ["audio"], "audio": {"voice": "alloy", "format": "ogg"}}));
    assert_refused(&v, "audio.format", "invalid_value");
}

#[test]
fn stream_options_rules() {
    let r = ok(&with_all(
        json!({"stream": true, "stream_options": {"include_usage": true}}),
    ));
    assert!(r.stream && r.include_usage);
    let r = ok(&with_all(
        json!({"stream": true, "stream_options": {"include_usage": false}}),
    ));
    assert!(r.stream && !r.include_usage);
    let r = ok(&with("stream", json!(true)));
    assert!(r.stream && !r.include_usage);
    assert_refused(
        &with("stream_options", json!({"include_usage": true})),
        "stream_options",
        "invalid_value",
    );
    let v = with_all(json!({"stream": false, "stream_options": {"include_usage": true}}));
    assert_refused(&v, "stream_options", "invalid_value");
    let v = with_all(json!({"stream": true, "stream_options": {}}));
    assert_refused(
        &v,
        "stream_options.include_usage",
        "missing_required_parameter",
    );
    let v = with_all(json!({"stream": true, "stream_options": {"include_usage": "yes"}}));
    assert_refused(&v, "stream_options.include_usage", "invalid_type");
    let v =
        with_all(json!({"stream": true, "stream_options": {"include_usage": true, "chunk": 1}}));
    assert_refused(&v, "stream_options.chunk", "unknown_parameter");
}
