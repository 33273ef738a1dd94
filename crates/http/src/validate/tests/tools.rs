//! `tools`, `tool_choice`, and the deprecated `functions` / `function_call`.

use serde_json::json;
use switchyard_core::{Tool, ToolChoice};

use super::*;

fn weather() -> Value {
    json!({"type": "function", "function": {"name": "get_weather", "parameters": {"type": "object"}}})
}

#[test]
fn tool_choice_values() {
    let cases = [
        (json!("none"), ToolChoice::None),
        (json!("auto"), ToolChoice::Auto),
        (json!("required"), ToolChoice::Required),
        (
            json!({"type": "function", "function": {"name": "get_weather"}}),
            ToolChoice::Function("get_weather".into()),
        ),
    ];
    for (choice, expected) in cases {
        let r = ok(&with_all(
            json!({"tools": [weather()], "tool_choice": choice}),
        ));
        assert_eq!(r.tool_choice, Some(expected));
    }
    assert_eq!(ok(&with("tools", json!([weather()]))).tool_choice, None);
    assert_eq!(
        ok(&with("parallel_tool_calls", json!(true))).parallel_tool_calls,
        Some(true)
    );
}

#[test]
fn tool_choice_needs_tools() {
    assert_eq!(
        ok(&with("tool_choice", json!("none"))).tool_choice,
        Some(ToolChoice::None)
    );
    for choice in [
        json!("auto"),
        json!("required"),
        json!({"type": "function", "function": {"name": "f"}}),
    ] {
        assert_refused(
            &with("tool_choice", choice.clone()),
            "tool_choice",
            "invalid_value",
        );
        assert_refused(
            &with_all(json!({"tools": [], "tool_choice": choice})),
            "tool_choice",
            "invalid_value",
        );
    }
    let v = with_all(
        json!({"tools": [weather()], "tool_choice": {"type": "function", "function": {"name": "other"}}}),
    );
    assert_refused(&v, "tool_choice.function.name", "invalid_value");
    let cases = [
        (
            json!({"type": "tool", "function": {"name": "get_weather"}}),
            "tool_choice.type",
            "invalid_value",
        ),
        (
            json!({"type": "function"}),
            "tool_choice.function",
            "missing_required_parameter",
        ),
        (
            json!({"type": "function", "function": {}}),
            "tool_choice.function.name",
            "missing_required_parameter",
        ),
        (
            json!({"type": "function", "function": {"name": "get_weather", "x": 1}}),
            "tool_choice.function.x",
            "unknown_parameter",
        ),
        (
            json!({"type": "function", "function": {"name": "get_weather"}, "x": 1}),
            "tool_choice.x",
            "unknown_parameter",
        ),
    ];
    for (choice, param, code) in cases {
        assert_refused(
            &with_all(json!({"tools": [weather()], "tool_choice": choice})),
            param,
            code,
        );
    }
}

#[test]
fn tool_definitions() {
    let v = with(
        "tools",
        json!([
            {"type": "function", "function": {"name": "a", "description": "d", "parameters": null, "strict": null}},
            {"type": "function", "function": {"name": "b", "parameters": {"type": "object", "required": ["x"]}, "required": ["y", "x"], "strict": false}},
            {"type": "function", "function": {"name": "c", "required": ["z"]}},
        ]),
    );
    let r = ok(&v);
    assert_eq!(
        r.tools,
        vec![
            Tool {
                name: "a".into(),
                description: Some("d".into()),
                parameters: None,
                strict: None
            },
            Tool {
                name: "b".into(),
                description: None,
                parameters: Some(json!({"type": "object", "required": ["x", "y"]})),
                strict: Some(false),
            },
            Tool {
                name: "c".into(),
                description: None,
                parameters: Some(json!({"type": "object", "properties": {}, "required": ["z"]})),
                strict: None,
            },
        ]
    );
    let cases = [
        (
            json!({"function": {"name": "f"}}),
            "tools[0].type",
            "missing_required_parameter",
        ),
        (
            json!({"type": "code_interpreter", "function": {"name": "f"}}),
            "tools[0].type",
            "invalid_value",
        ),
        (
            json!({"type": "function"}),
            "tools[0].function",
            "missing_required_parameter",
        ),
        (
            json!({"type": "function", "function": {}}),
            "tools[0].function.name",
            "missing_required_parameter",
        ),
        (
            json!({"type": "function", "function": {"name": "has space"}}),
            "tools[0].function.name",
            "invalid_value",
        ),
        (
            json!({"type": "function", "function": {"name": "f", "parameters": "{}"}}),
            "tools[0].function.parameters",
            "invalid_type",
        ),
        (
            json!({"type": "function", "function": {"name": "f", "strict": "yes"}}),
            "tools[0].function.strict",
            "invalid_type",
        ),
        (
            json!({"type": "function", "function": {"name": "f", "required": [1]}}),
            "tools[0].function.required[0]",
            "invalid_type",
        ),
        (
            json!({"type": "function", "function": {"name": "f", "examples": []}}),
            "tools[0].function.examples",
            "unknown_parameter",
        ),
        (
            json!({"type": "function", "function": {"name": "f"}, "cache_control": {}}),
            "tools[0].cache_control",
            "unknown_parameter",
        ),
        (json!("f"), "tools[0]", "invalid_type"),
    ];
    for (tool, param, code) in cases {
        assert_refused(&with("tools", json!([tool])), param, code);
    }
    assert_refused(
        &with("tools", json!([weather(), weather()])),
        "tools[1].function.name",
        "invalid_value",
    );
}

#[test]
fn legacy_functions_convert_to_tools() {
    let f = json!({"name": "get_weather", "description": "d", "parameters": {"type": "object"}});
    let r = ok(&with_all(
        json!({"functions": [f], "function_call": {"name": "get_weather"}}),
    ));
    assert_eq!(
        r.tools,
        vec![Tool {
            name: "get_weather".into(),
            description: Some("d".into()),
            parameters: Some(json!({"type": "object"})),
            strict: None,
        }]
    );
    assert_eq!(
        r.tool_choice,
        Some(ToolChoice::Function("get_weather".into()))
    );
    for (mode, expected) in [("none", ToolChoice::None), ("auto", ToolChoice::Auto)] {
        let r = ok(&with_all(
            json!({"functions": [{"name": "g"}], "function_call": mode}),
        ));
        assert_eq!(r.tool_choice, Some(expected));
    }

    let cases = [
        (
            json!({"functions": [{"name": "g"}], "tools": [weather()]}),
            "functions",
            "invalid_value",
        ),
        (
            json!({"tools": [weather()], "tool_choice": "auto", "function_call": "auto"}),
            "function_call",
            "invalid_value",
        ),
        (
            json!({"functions": [{"name": "g"}], "function_call": "required"}),
            "function_call",
            "invalid_value",
        ),
        (
            json!({"functions": [{"name": "g"}], "function_call": {"name": "h"}}),
            "function_call.name",
            "invalid_value",
        ),
        (
            json!({"functions": [{"name": "g"}], "function_call": {"name": "g", "x": 1}}),
            "function_call.x",
            "unknown_parameter",
        ),
        (
            json!({"function_call": "auto"}),
            "function_call",
            "invalid_value",
        ),
        (
            json!({"functions": [{"name": "g", "strict": true}]}),
            "functions[0].strict",
            "unknown_parameter",
        ),
        (
            json!({"functions": [{"name": "bad name"}]}),
            "functions[0].name",
            "invalid_value",
        ),
        (
            json!({"functions": [{"name": "g"}, {"name": "g"}]}),
            "functions[1].name",
            "invalid_value",
        ),
    ];
    for (fields, param, code) in cases {
        assert_refused(&with_all(fields), param, code);
    }
    let many = Value::Array((0..129).map(|i| json!({"name": format!("f{i}")})).collect());
    assert_refused(&with("functions", many), "functions", "invalid_value");
}
