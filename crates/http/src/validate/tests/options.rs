//! `response_format`, `prediction` and the OpenAI-documented options.

use serde_json::json;

use super::*;

#[test]
fn response_format_variants() {
    assert_eq!(
        ok(&with("response_format", json!({"type": "text"}))).response_format,
        Some(switchyard_core::ResponseFormat::Text)
    );
    assert_eq!(
        ok(&with("response_format", json!({"type": "json_object"}))).response_format,
        Some(switchyard_core::ResponseFormat::JsonObject)
    );
    let minimal = ok(&with(
        "response_format",
        json!({"type": "json_schema", "json_schema": {"name": "a-b_9"}}),
    ));
    assert_eq!(
        minimal.response_format,
        Some(switchyard_core::ResponseFormat::JsonSchema {
            name: "a-b_9".into(),
            description: None,
            schema: None,
            strict: None
        })
    );
    let cases = [
        (
            json!({"type": "json_schema"}),
            "response_format.json_schema",
            "missing_required_parameter",
        ),
        (
            json!({"type": "json_schema", "json_schema": {}}),
            "response_format.json_schema.name",
            "missing_required_parameter",
        ),
        (
            json!({"type": "json_schema", "json_schema": {"name": "has space"}}),
            "response_format.json_schema.name",
            "invalid_value",
        ),
        (
            json!({"type": "json_schema", "json_schema": {"name": "n", "schema": "x"}}),
            "response_format.json_schema.schema",
            "invalid_type",
        ),
        (
            json!({"type": "json_schema", "json_schema": {"name": "n", "strict": 1}}),
            "response_format.json_schema.strict",
            "invalid_type",
        ),
        (
            json!({"type": "json_schema", "json_schema": {"name": "n", "extra": 1}}),
            "response_format.json_schema.extra",
            "unknown_parameter",
        ),
        (
            json!({"type": "json_object", "json_schema": {"name": "n"}}),
            "response_format.json_schema",
            "unknown_parameter",
        ),
        (
            json!({}),
            "response_format.type",
            "missing_required_parameter",
        ),
    ];
    for (value, param, code) in cases {
        assert_refused(&with("response_format", value), param, code);
    }
}

#[test]
fn prediction_and_options() {
    assert_eq!(
        ok(&with(
            "prediction",
            json!({"type": "content", "content": "abc"})
        ))
        .prediction
        .as_deref(),
        Some("abc")
    );
    assert_refused(
        &with("prediction", json!({"type": "content"})),
        "prediction.content",
        "missing_required_parameter",
    );
    assert_refused(
        &with(
            "prediction",
            json!({"type": "content", "content": [{"type": "image_url"}]}),
        ),
        "prediction.content[0].type",
        "invalid_value",
    );
    assert_refused(
        &with("prediction", json!({"type": "content", "content": 3})),
        "prediction.content",
        "invalid_type",
    );

    let r = ok(&with_all(json!({"user": "u", "safety_identifier": "s"})));
    assert_eq!(r.options.user.as_deref(), Some("s"));
    assert_eq!(
        ok(&with("safety_identifier", json!("s")))
            .options
            .user
            .as_deref(),
        Some("s")
    );
    assert_eq!(
        ok(&with("user", json!("u"))).options.user.as_deref(),
        Some("u")
    );

    let r = ok(&with("modalities", json!(["text"])));
    assert!(!r.options.audio_output);
    assert!(
        ok(&with("modalities", json!(["text", "audio"])))
            .options
            .audio_output
    );
    assert_refused(
        &with("audio", json!({"voice": "alloy", "format": "wav"})),
        "audio",
        "invalid_value",
    );
    assert_refused(
        &with_all(json!({"modalities": ["audio"], "audio": {"voice": "alloy"}})),
        "audio.format",
        "missing_required_parameter",
    );
    assert!(
        ok(&with_all(
            json!({"modalities": ["audio"], "audio": {"voice": {"id": "v1"}, "format": "pcm16"}})
        ))
        .options
        .audio_output
    );
    assert_refused(
        &with_all(
            json!({"modalities": ["audio"], "audio": {"voice": "alloy", "format": "wav", "speed": 2}}),
        ),
        "audio.speed",
        "unknown_parameter",
    );

    assert!(
        ok(&with("web_search_options", json!({})))
            .options
            .web_search
    );
    assert_refused(
        &with(
            "web_search_options",
            json!({"user_location": {"type": "exact", "approximate": {}}}),
        ),
        "web_search_options.user_location.type",
        "invalid_value",
    );
    assert_refused(
        &with(
            "web_search_options",
            json!({"user_location": {"type": "approximate", "approximate": {"street": "x"}}}),
        ),
        "web_search_options.user_location.approximate.street",
        "unknown_parameter",
    );
    for (effort, expected) in [
        ("minimal", switchyard_core::ReasoningEffort::Minimal),
        ("low", switchyard_core::ReasoningEffort::Low),
        ("medium", switchyard_core::ReasoningEffort::Medium),
        ("high", switchyard_core::ReasoningEffort::High),
    ] {
        assert_eq!(
            ok(&with("reasoning_effort", json!(effort)))
                .options
                .reasoning_effort,
            Some(expected)
        );
    }
    for tier in ["auto", "default", "flex", "priority", "scale"] {
        assert_eq!(
            ok(&with("service_tier", json!(tier)))
                .options
                .service_tier
                .as_deref(),
            Some(tier)
        );
    }
    assert_refused(
        &with("metadata", json!({"k": 5})),
        "metadata.k",
        "invalid_type",
    );
}
