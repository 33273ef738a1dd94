#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::*;
use serde_json::{Value, json};
use switchyard_core::{BackendError, Delta, Event, FinishReason, ToolCallDelta};

fn chunks(body: &str) -> (Vec<Value>, Vec<String>) {
    let data = sse_data(body);
    let json = data
        .iter()
        .filter(|d| *d != "[DONE]")
        .map(|d| serde_json::from_str(d).unwrap())
        .collect();
    (json, data)
}

fn two_words() -> Vec<Step> {
    vec![
        text(0, "Hello"),
        text(0, " world"),
        finish(0, FinishReason::Stop),
        usage(7, 2, 2, 0),
    ]
}

#[tokio::test]
async fn stream_chunk_sequence_without_include_usage() {
    let t = setup().await;
    t.backend.set_script(two_words());
    let (s, h, body) = t.call(t.chat_request(&simple_body(true))).await;
    assert_eq!(s, 200);
    assert_eq!(h["content-type"], "text/event-stream");
    assert!(h.contains_key("x-request-id"));
    let (cs, data) = chunks(&body);
    assert_eq!(data.last().unwrap(), "[DONE]");
    assert_eq!(cs.len(), 3, "{body}");
    let id = cs[0]["id"].as_str().unwrap();
    assert!(id.starts_with("gen-"));
    for c in &cs {
        assert_eq!(c["id"], id);
        assert_eq!(c["object"], "chat.completion.chunk");
        assert_eq!(c["created"], cs[0]["created"]);
        assert_eq!(c["model"], MODEL);
        assert_eq!(c["system_fingerprint"], cs[0]["system_fingerprint"]);
        assert!(
            c.get("usage").is_none(),
            "no usage member without include_usage"
        );
    }
    assert_eq!(
        cs[0]["choices"],
        json!([{"index": 0, "delta": {"role": "assistant", "content": "Hello"}, "logprobs": null, "finish_reason": null}])
    );
    assert_eq!(cs[1]["choices"][0]["delta"], json!({"content": " world"}));
    assert_eq!(
        cs[2]["choices"],
        json!([{"index": 0, "delta": {}, "logprobs": null, "finish_reason": "stop"}])
    );

    let rows = t.rows().await;
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0].request_id, id);
    assert_eq!(rows[0].status_code, 200);
    assert_eq!(rows[0].outcome, "ok");
    assert_eq!((rows[0].prompt_tokens, rows[0].completion_tokens), (7, 2));
}

#[tokio::test]
async fn stream_with_include_usage_ends_with_a_usage_chunk_then_done() {
    let t = setup().await;
    t.backend.set_script(two_words());
    let mut body = simple_body(true);
    body["stream_options"] = json!({"include_usage": true});
    let (s, _, text_body) = t.call(t.chat_request(&body)).await;
    assert_eq!(s, 200);
    let (cs, data) = chunks(&text_body);
    assert_eq!(data.last().unwrap(), "[DONE]");
    assert_eq!(cs.len(), 4);
    for c in &cs[..3] {
        assert!(c["usage"].is_null() && c.get("usage").is_some());
    }
    let last = &cs[3];
    assert_eq!(last["choices"], json!([]));
    assert_eq!(
        last["usage"],
        json!({
            "prompt_tokens": 7, "completion_tokens": 2, "total_tokens": 9,
            "prompt_tokens_details": {"cached_tokens": 2},
            "completion_tokens_details": {"reasoning_tokens": 0},
        })
    );
}

#[tokio::test]
async fn tool_call_deltas_and_multiple_choices_stream_with_role_once_per_choice() {
    let t = setup().await;
    let tool = |id: Option<&str>, name: Option<&str>, args: &str| {
        Step::Item(Ok(Event::Delta {
            index: 1,
            delta: Delta {
                tool_calls: vec![ToolCallDelta {
                    index: 0,
                    id: id.map(Into::into),
                    name: name.map(Into::into),
                    arguments: Some(args.into()),
                }],
                ..Delta::default()
            },
        }))
    };
    t.backend.set_script(vec![
        text(0, "a"),
        tool(Some("call_9"), Some("f"), "{"),
        text(0, "b"),
        tool(None, None, "}"),
        finish(0, FinishReason::Stop),
        finish(1, FinishReason::ToolCalls),
        usage(1, 0, 4, 0),
    ]);
    let (_, _, body) = t.call(t.chat_request(&simple_body(true))).await;
    let (cs, _) = chunks(&body);
    let deltas: Vec<(u64, Value, Value)> = cs
        .iter()
        .map(|c| {
            let ch = &c["choices"][0];
            (
                ch["index"].as_u64().unwrap(),
                ch["delta"].clone(),
                ch["finish_reason"].clone(),
            )
        })
        .collect();
    assert_eq!(
        deltas[0],
        (0, json!({"role": "assistant", "content": "a"}), Value::Null)
    );
    assert_eq!(
        deltas[1],
        (
            1,
            json!({"role": "assistant", "tool_calls": [{"index": 0, "id": "call_9", "type": "function", "function": {"name": "f", "arguments": "{"}}]}),
            Value::Null
        )
    );
    assert_eq!(deltas[2], (0, json!({"content": "b"}), Value::Null));
    assert_eq!(
        deltas[3],
        (
            1,
            json!({"tool_calls": [{"index": 0, "function": {"arguments": "}"}}]}),
            Value::Null
        )
    );
    assert_eq!(deltas[4], (0, json!({}), json!("stop")));
    assert_eq!(deltas[5], (1, json!({}), json!("tool_calls")));
}

#[tokio::test]
async fn failure_mid_stream_is_one_error_event_then_close_and_one_row() {
    let t = setup().await;
    t.backend.set_script(vec![
        text(0, "partial"),
        text(0, " answer"),
        Step::Item(Err(BackendError::Upstream {
            status: None,
            detail: "stream cut at 10.9.9.9".into(),
        })),
        text(0, "never sent"),
    ]);
    let (s, _, body) = t.call(t.chat_request(&simple_body(true))).await;
    assert_eq!(s, 200);
    let data = sse_data(&body);
    assert_eq!(data.len(), 3, "{body}");
    let err: Value = serde_json::from_str(&data[2]).unwrap();
    assert_eq!(err["error"]["type"], "upstream_error");
    assert_eq!(err["error"]["code"], "upstream_error");
    assert!(!body.contains("10.9.9.9"), "no internal detail: {body}");
    assert!(!body.contains("[DONE]"));
    assert!(!body.contains("never sent"));

    let rows = t.rows().await;
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0].status_code, 502);
    assert_eq!(rows[0].outcome, "upstream_error");
    // no usage report: the delivered content events are counted
    assert_eq!(rows[0].completion_tokens, 2);
    assert!((rows[0].cost_usd - 2.0 * 2.0 / 1e6).abs() < 1e-12);
}

#[tokio::test]
async fn stream_without_usage_event_counts_delivered_events() {
    let t = setup().await;
    t.backend.set_script(vec![
        text(0, "one"),
        text(0, "two"),
        text(0, "three"),
        finish(0, FinishReason::Length),
    ]);
    let mut body = simple_body(true);
    body["stream_options"] = json!({"include_usage": true});
    let (_, _, text_body) = t.call(t.chat_request(&body)).await;
    let (cs, _) = chunks(&text_body);
    assert_eq!(cs.last().unwrap()["usage"]["completion_tokens"], 3);
    let rows = t.rows().await;
    assert_eq!(
        (rows[0].completion_tokens, rows[0].outcome.as_str()),
        (3, "ok")
    );
}
