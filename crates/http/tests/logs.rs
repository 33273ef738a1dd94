//! Request logs carry model, status, latency and tokens, never keys or prompt text.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::{
    io::Write,
    sync::{Arc, Mutex},
};

use common::*;
use serde_json::json;
use switchyard_core::FinishReason;

#[derive(Clone, Default)]
struct Buf(Arc<Mutex<Vec<u8>>>);

impl Write for Buf {
    fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(b);
        Ok(b.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[tokio::test]
async fn logs_have_request_fields_but_no_key_or_prompt() {
    let buf = Buf::default();
    let writer = buf.clone();
    let subscriber = tracing_subscriber::fmt()
        .json()
        .with_max_level(tracing::Level::TRACE)
        .with_writer(move || writer.clone())
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);

    let t = setup().await;
    t.backend.set_script(vec![
        text(0, "SECRET-ANSWER-TEXT"),
        finish(0, FinishReason::Stop),
        usage(11, 0, 1, 0),
    ]);
    let prompt = "MY-PRIVATE-PROMPT-TEXT";
    let body = json!({"model": MODEL, "messages": [{"role": "user", "content": prompt}]});
    assert_eq!(t.call(t.chat_request(&body)).await.0, 201);
    // a refused key is not logged either
    let bad = format!("{}x", t.key);
    let req = axum::http::Request::post("/v1/chat/completions")
        .header("authorization", format!("Bearer {bad}"))
        .header("content-type", "application/json")
        .body(axum::body::Body::from(body.to_string()))
        .unwrap();
    assert_eq!(t.call(req).await.0, 401);
    t.state.drain().await;

    let logs = String::from_utf8(buf.0.lock().unwrap().clone()).unwrap();
    let line = logs
        .lines()
        .find(|l| l.contains("chat completion"))
        .unwrap_or_else(|| panic!("no chat log line in {logs}"));
    let v: serde_json::Value = serde_json::from_str(line).unwrap();
    let f = &v["fields"];
    assert_eq!(f["model"], MODEL);
    assert_eq!(f["status"], 201);
    assert_eq!(f["prompt_tokens"], 11);
    assert_eq!(f["completion_tokens"], 1);
    assert!(f["latency_ms"].is_u64());
    assert!(logs.contains("\"status\":401"), "the 401 is logged: {logs}");
    for secret in [
        t.key.as_str(),
        bad.as_str(),
        &t.key[..20],
        prompt,
        "SECRET-ANSWER-TEXT",
    ] {
        assert!(!logs.contains(secret), "logs leak {secret}: {logs}");
    }
}
