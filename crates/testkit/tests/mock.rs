#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
//! The mock upstream itself: answers, SSE framing, failure behaviours, counters.

use std::time::Duration;

use serde_json::{Value, json};
use switchyard_testkit::MockUpstream;

async fn post(mock: &MockUpstream, body: Value) -> reqwest::Response {
    reqwest::Client::new()
        .post(format!("{}/chat/completions", mock.base_url()))
        .bearer_auth("sk-test")
        .json(&body)
        .send()
        .await
        .unwrap()
}

fn body(model: &str, text: &str, stream: bool) -> Value {
    json!({
        "model": model,
        "messages": [{"role": "user", "content": text}],
        "stream": stream,
        "stream_options": {"include_usage": true},
    })
}

/// The `data:` payloads of an SSE body written in the mock's plain framing.
fn data_lines(text: &str) -> Vec<String> {
    text.split("\n\n")
        .filter_map(|e| e.strip_prefix("data: "))
        .map(str::to_owned)
        .collect()
}

#[tokio::test]
async fn non_stream_answer_is_derived_from_request() {
    let mock = MockUpstream::start().await;
    let resp = post(&mock, body("m", "hello big world", false)).await;
    assert_eq!(resp.status(), 200);
    let v: Value = resp.json().await.unwrap();
    assert_eq!(v["object"], "chat.completion");
    assert_eq!(v["choices"][0]["message"]["content"], "world big hello");
    assert_eq!(v["usage"]["prompt_tokens"], 3);
    assert_eq!(v["usage"]["completion_tokens"], 3);
    assert_eq!(mock.request_count(), 1);
    assert_eq!(mock.last_authorization().as_deref(), Some("Bearer sk-test"));
    assert_eq!(mock.last_request().unwrap()["model"], "m");
}

#[tokio::test]
async fn stream_has_role_words_finish_usage_done() {
    let mock = MockUpstream::start().await;
    let mut b = body("m", "a b", true);
    b["n"] = json!(2);
    let resp = post(&mock, b).await;
    assert_eq!(resp.headers()["content-type"], "text/event-stream");
    let text = resp.text().await.unwrap();
    let data = data_lines(&text);
    assert_eq!(data.last().unwrap(), "[DONE]");
    let chunks: Vec<Value> = data[..data.len() - 1]
        .iter()
        .map(|d| serde_json::from_str(d).unwrap())
        .collect();
    assert_eq!(chunks[0]["choices"][0]["delta"]["role"], "assistant");
    let mut content = [String::new(), String::new()];
    for c in &chunks {
        for ch in c["choices"].as_array().unwrap() {
            if let Some(t) = ch["delta"]["content"].as_str() {
                content[ch["index"].as_u64().unwrap() as usize].push_str(t);
            }
        }
    }
    assert_eq!(content, ["b a".to_owned(), "b a".to_owned()]);
    let usage = chunks.last().unwrap();
    assert_eq!(usage["choices"], json!([]));
    assert_eq!(usage["usage"]["completion_tokens"], 4);
    assert_eq!(usage["usage"]["prompt_tokens_details"]["cached_tokens"], 1);
    let finishes = chunks
        .iter()
        .filter(|c| c["choices"][0]["finish_reason"] == "stop")
        .count();
    assert_eq!(finishes, 2);
    assert!(
        mock.eventually(Duration::from_secs(2), |m| m.completed_streams() == 1)
            .await
    );
    assert_eq!(mock.cancelled_streams(), 0);
}

#[tokio::test]
async fn failure_statuses() {
    let mock = MockUpstream::start().await;
    let r = post(&mock, body("fail-429", "x", true)).await;
    assert_eq!(r.status(), 429);
    assert_eq!(r.headers()["retry-after"], "1");
    let r = post(&mock, body("fail-400", "x", true)).await;
    assert_eq!(r.status(), 400);
    let v: Value = r.json().await.unwrap();
    assert!(
        v["error"]["message"]
            .as_str()
            .unwrap()
            .contains("invalid request")
    );
    assert_eq!(post(&mock, body("fail-500", "x", true)).await.status(), 500);
    for expected in [503, 503, 200] {
        assert_eq!(
            post(&mock, body("flaky-2", "x", true)).await.status(),
            expected
        );
    }
    assert_eq!(mock.request_count(), 6);
}

#[tokio::test]
async fn cut_stream_closes_connection_without_done() {
    let mock = MockUpstream::start().await;
    let r = post(&mock, body("cut-stream", "a b c d", true)).await;
    assert_eq!(r.status(), 200);
    let err = r.text().await;
    assert!(
        err.is_err(),
        "a cut stream must not read as a complete body"
    );
}

#[tokio::test]
async fn dropping_a_slow_stream_counts_a_cancellation() {
    let mock = MockUpstream::start().await;
    let mut r = post(&mock, body("slow-stream-30", "a b c d e f g h", true)).await;
    let first = r.chunk().await.unwrap();
    assert!(first.is_some());
    drop(r);
    assert!(
        mock.eventually(Duration::from_secs(3), |m| m.cancelled_streams() == 1)
            .await
    );
    assert!(
        mock.eventually(Duration::from_secs(1), |m| m.in_flight() == 0)
            .await
    );
    assert_eq!(mock.completed_streams(), 0);
}

#[tokio::test]
async fn dropping_a_stalled_stream_counts_a_cancellation() {
    let mock = MockUpstream::start().await;
    let mut r = post(&mock, body("stall-mid-stream", "a b c", true)).await;
    assert!(r.chunk().await.unwrap().is_some());
    drop(r);
    assert!(
        mock.eventually(Duration::from_secs(3), |m| m.cancelled_streams() == 1)
            .await
    );
}

#[tokio::test]
async fn models_list() {
    let mock = MockUpstream::start().await;
    let v: Value = reqwest::get(format!("{}/models", mock.base_url()))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(v["object"], "list");
    assert!(!v["data"].as_array().unwrap().is_empty());
}
