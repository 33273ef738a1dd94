//! Table-driven tests of request validation. Each asserts the mapped values,
//! or the error's `param` and `code`.

mod bounds;
mod envelope;
mod full;
mod messages;
mod options;
mod tools;

use serde_json::{Value, json};
use switchyard_core::ChatRequest;

use super::parse_chat_request;
use crate::{ApiError, ErrorKind};

/// The smallest valid body.
fn base() -> Value {
    json!({"model": "x-ai/grok-beta", "messages": [{"role": "user", "content": "hi"}]})
}

/// `base()` with `key` set to `value`.
fn with(key: &str, value: Value) -> Value {
    let mut v = base();
    v[key] = value;
    v
}

/// `base()` with several fields set.
fn with_all(fields: Value) -> Value {
    let mut v = base();
    for (k, x) in fields.as_object().unwrap() {
        v[k] = x.clone();
    }
    v
}

/// `base()` with `messages` replaced.
fn with_messages(messages: Value) -> Value {
    with("messages", messages)
}

fn parse(v: &Value) -> Result<ChatRequest, ApiError> {
    parse_chat_request(Some("application/json"), v.to_string().as_bytes())
}

#[track_caller]
fn ok(v: &Value) -> ChatRequest {
    match parse(v) {
        Ok(r) => r,
        Err(e) => panic!("expected {v} to be accepted, got {e:?}"),
    }
}

#[track_caller]
fn err(v: &Value) -> ApiError {
    match parse(v) {
        Ok(r) => panic!("expected {v} to be refused, got {r:?}"),
        Err(e) => e,
    }
}

/// Asserts a 400 naming `param` with `code`.
#[track_caller]
fn assert_refused(v: &Value, param: &str, code: &str) {
    let e = err(v);
    assert_eq!(e.kind, ErrorKind::InvalidRequest, "{e:?}");
    assert_eq!(e.param.as_deref(), Some(param), "param for {v}: {e:?}");
    assert_eq!(e.code.as_deref(), Some(code), "code for {v}: {e:?}");
    assert!(
        e.message.contains(param),
        "message should name {param}: {}",
        e.message
    );
}
