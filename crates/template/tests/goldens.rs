//! Every template in `shared/chat-templates/` (and the built-in fallbacks) renders the table of
//! conversations in `tests/cases.json` byte-identically to Python jinja2 as Hugging Face renders
//! it. The goldens are written by `scripts/chat_templates/make_goldens.py`.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::{Path, PathBuf};

use serde_json::Value;
use sha2::{Digest, Sha256};
use switchyard_template::{
    ChatInput, ChatTemplate, FallbackKind, PrimitiveDateTime, SpecialTokens, TemplateError,
    TemplateMessage, TemplateTool,
};

fn crate_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn read_json(path: &Path) -> Value {
    let text = std::fs::read_to_string(path)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{} is not JSON: {e}", path.display()))
}

fn str_field<'a>(v: &'a Value, key: &str) -> &'a str {
    v.get(key)
        .and_then(Value::as_str)
        .unwrap_or_else(|| panic!("missing string {key:?} in {v}"))
}

fn fixed_now(table: &Value) -> PrimitiveDateTime {
    let format = time::macros::format_description!("[year]-[month]-[day]T[hour]:[minute]:[second]");
    PrimitiveDateTime::parse(str_field(table, "now"), &format).unwrap()
}

fn chat_input(case: &Value, tool_sets: &Value) -> ChatInput {
    let messages = case["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| TemplateMessage::from_value(m.clone()).unwrap())
        .collect();
    let mut input = ChatInput::new(messages, case["add_generation_prompt"].as_bool().unwrap());
    if let Some(name) = case.get("tools").and_then(Value::as_str) {
        let tools = tool_sets[name]
            .as_array()
            .unwrap_or_else(|| panic!("no tool set {name:?}"))
            .iter()
            .map(|t| TemplateTool::from_value(t.clone()).unwrap())
            .collect();
        input = input.with_tools(tools);
    }
    if let Some(extra) = case.get("extra").and_then(Value::as_object) {
        input.extra = extra.clone();
    }
    input
}

/// Where two strings first differ, with a little context on both sides.
fn first_difference(want: &str, got: &str) -> String {
    let at = want
        .char_indices()
        .zip(got.chars())
        .find(|((_, a), b)| a != b)
        .map(|((i, _), _)| i)
        .unwrap_or(want.len().min(got.len()));
    let at = (0..=at)
        .rev()
        .find(|i| want.is_char_boundary(*i) && got.is_char_boundary(*i))
        .unwrap_or(0);
    let window = |s: &str| -> String {
        let start = (0..=at.saturating_sub(40))
            .rev()
            .find(|i| s.is_char_boundary(*i))
            .unwrap_or(0);
        let end = (at + 60..=s.len())
            .find(|i| s.is_char_boundary(*i))
            .unwrap_or(s.len());
        s.get(start..end.min(s.len())).unwrap_or("").to_owned()
    };
    format!(
        "first difference at byte {at} (lengths {} vs {}):\n      want …{:?}…\n      got  …{:?}…",
        want.len(),
        got.len(),
        window(want),
        window(got)
    )
}

/// Compares one rendering with its golden; `None` when they agree.
fn check(golden: &Value, got: Result<String, TemplateError>) -> Option<String> {
    if let Some(want) = golden.get("output").and_then(Value::as_str) {
        return match got {
            Ok(got) if got == want => None,
            Ok(got) => Some(first_difference(want, &got)),
            Err(e) => Some(format!("jinja2 rendered it, we failed: {e}")),
        };
    }
    if let Some(want) = golden.get("raise").and_then(Value::as_str) {
        return match got {
            Err(TemplateError::Raised(msg)) if msg == want => None,
            Err(TemplateError::Raised(msg)) => Some(format!(
                "raise_exception message differs: want {want:?}, got {msg:?}"
            )),
            other => Some(format!("jinja2 raised {want:?}, we gave {other:?}")),
        };
    }
    if let Some(want) = golden.get("error").and_then(Value::as_str) {
        // jinja2 failed outside raise_exception (TypeError, UndefinedError, ...): Python's
        // wording cannot be matched, but the rendering must fail too, and not as a raise.
        return match got {
            Err(TemplateError::Render(_)) => None,
            other => Some(format!("jinja2 failed with {want:?}, we gave {other:?}")),
        };
    }
    Some(format!("malformed golden {golden}"))
}

#[test]
fn templates_render_like_python_jinja2() {
    let dir = crate_dir();
    let table = read_json(&dir.join("tests/cases.json"));
    let now = fixed_now(&table);
    let cases = table["cases"].as_array().unwrap();
    let mut failures = Vec::new();
    let mut checked = 0;
    let mut outcomes = [0usize; 3];

    for spec in table["templates"].as_array().unwrap() {
        let name = str_field(spec, "name");
        let source_path = dir.join(str_field(spec, "path"));
        let source = std::fs::read_to_string(&source_path)
            .unwrap_or_else(|e| panic!("cannot read template {}: {e}", source_path.display()));
        let golden = read_json(&dir.join("tests/goldens").join(format!("{name}.json")));
        let sha = format!("{:x}", Sha256::digest(source.as_bytes()));
        assert_eq!(
            golden["source_sha256"].as_str(),
            Some(sha.as_str()),
            "{name}: template changed since its goldens were made; rerun scripts/chat_templates/make_goldens.py"
        );
        let special =
            SpecialTokens::new(str_field(spec, "bos_token"), str_field(spec, "eos_token"));
        let template = match spec.get("fallback").and_then(Value::as_str) {
            Some(kind) => {
                let kind = FallbackKind::from_name(kind).unwrap();
                assert_eq!(
                    kind.source(),
                    source,
                    "{name}: built-in source differs from its file"
                );
                ChatTemplate::fallback(kind)
                    .unwrap()
                    .with_special_tokens(special)
            }
            None => ChatTemplate::new(&source, special).unwrap(),
        }
        .with_fixed_now(now);

        for case in cases {
            let case_name = str_field(case, "name");
            let Some(want) = golden["cases"].get(case_name) else {
                failures.push(format!(
                    "{name} / {case_name}: no golden; rerun make_goldens.py"
                ));
                continue;
            };
            for (i, key) in ["output", "raise", "error"].iter().enumerate() {
                if want.get(*key).is_some() {
                    outcomes[i] += 1;
                }
            }
            checked += 1;
            if let Some(problem) = check(want, template.render(&chat_input(case, &table["tools"])))
            {
                failures.push(format!("{name} / {case_name}: {problem}"));
            }
        }
    }

    assert!(checked >= 100, "only {checked} renderings checked");
    assert!(
        outcomes[0] >= 100 && outcomes[1] >= 5,
        "too few outputs or raises: {outcomes:?}"
    );
    assert!(
        failures.is_empty(),
        "{} of {checked} renderings differ from Python jinja2:\n  {}",
        failures.len(),
        failures.join("\n  ")
    );
}

#[test]
fn flattened_parts_render_like_plain_text() {
    // The local backend flattens list-of-parts content for templates that concatenate strings;
    // the result must equal the same conversation written with string content.
    let dir = crate_dir();
    let table = read_json(&dir.join("tests/cases.json"));
    for spec in table["templates"].as_array().unwrap() {
        let source = std::fs::read_to_string(dir.join(str_field(spec, "path"))).unwrap();
        let template = ChatTemplate::new(&source, SpecialTokens::new("<s>", "</s>"))
            .unwrap()
            .with_fixed_now(fixed_now(&table));
        let parts = TemplateMessage::from_value(serde_json::json!({"role": "user", "content": [
            {"type": "text", "text": "Describe this:"}, {"type": "text", "text": "a red apple"}
        ]}))
        .unwrap();
        let flat = ChatInput::new(vec![parts.with_text_parts_flattened()], true);
        let plain = ChatInput::new(
            vec![TemplateMessage::new("user", "Describe this:\na red apple")],
            true,
        );
        let name = str_field(spec, "name");
        let (a, b) = (template.render(&flat), template.render(&plain));
        assert_eq!(a, b, "{name}");
        if !name.starts_with("NousResearch") {
            assert!(a.unwrap().contains("Describe this:\na red apple"), "{name}");
        }
    }
}
