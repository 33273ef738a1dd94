#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::time::Duration;

use axum::{body::Body, http::Request};
use common::*;
use serde_json::{Value, json};
use switchyard_core::{BackendError, Delta, Event, FinishReason, TokenLogprob, ToolCallDelta};
use switchyard_http::HttpSettings;

fn get(path: &str, key: Option<&str>) -> Request<Body> {
    let mut b = Request::get(path);
    if let Some(k) = key {
        b = b.header("authorization", format!("Bearer {k}"));
    }
    b.body(Body::empty()).unwrap()
}

#[tokio::test]
async fn every_kind_of_bad_key_gets_401_invalid_api_key() {
    let t = setup().await;
    t.backend.set_script(vec![
        text(0, "hi"),
        finish(0, FinishReason::Stop),
        usage(1, 0, 1, 0),
    ]);
    let body = simple_body(false).to_string();
    let with_auth = |auth: Option<&str>| {
        let mut b =
            Request::post("/v1/chat/completions").header("content-type", "application/json");
        if let Some(a) = auth {
            b = b.header("authorization", a);
        }
        b.body(Body::from(body.clone())).unwrap()
    };

    // missing
    let (s, v) = t.json(with_auth(None)).await;
    assert_eq!(s, 401);
    assert_openai_error(&v, "authentication_error", "invalid_api_key");
    // not a bearer scheme
    let (s, v) = t.json(with_auth(Some(&format!("Basic {}", t.key)))).await;
    assert_eq!(s, 401);
    assert_openai_error(&v, "authentication_error", "invalid_api_key");
    // malformed key
    let (s, v) = t
        .json(with_auth(Some("Bearer sk-not-a-switchyard-key")))
        .await;
    assert_eq!(s, 401);
    assert_openai_error(&v, "authentication_error", "invalid_api_key");
    // right shape, checksum broken (last char changed)
    let mut broken = t.key.clone();
    let last = broken.pop().unwrap();
    broken.push(if last == 'a' { 'b' } else { 'a' });
    let (s, v) = t.json(with_auth(Some(&format!("Bearer {broken}")))).await;
    assert_eq!(s, 401);
    assert_openai_error(&v, "authentication_error", "invalid_api_key");
    // well-formed but unknown
    let stranger = switchyard_auth::GeneratedKey::new().secret;
    let (s, v) = t.json(with_auth(Some(&format!("Bearer {stranger}")))).await;
    assert_eq!(s, 401);
    assert_openai_error(&v, "authentication_error", "invalid_api_key");
    // none of those reached the backend, and the key never appears in an error
    assert_eq!(t.backend.calls.load(std::sync::atomic::Ordering::SeqCst), 0);
    assert!(!v.to_string().contains(&stranger));

    // a valid key works
    let (s, _) = t.json(with_auth(Some(&format!("Bearer {}", t.key)))).await;
    assert_eq!(s, 201);
}

#[tokio::test]
async fn disabled_and_deleted_keys_are_refused_within_the_cache_ttl() {
    let settings = HttpSettings {
        key_cache_ttl: Duration::from_millis(200),
        ..HttpSettings::default()
    };
    let t = setup_with(settings, Vec::new()).await;
    let models = || get("/v1/models", Some(&t.key));
    assert_eq!(t.call(models()).await.0, 200); // now cached

    assert!(t.store.set_disabled(&t.key_prefix, true).await.unwrap());
    tokio::time::sleep(Duration::from_millis(250)).await;
    let (s, v) = t.json(models()).await;
    assert_eq!(s, 401);
    assert_openai_error(&v, "authentication_error", "invalid_api_key");
    assert!(v["error"]["message"].as_str().unwrap().contains("disabled"));

    assert!(t.store.set_disabled(&t.key_prefix, false).await.unwrap());
    assert_eq!(t.call(models()).await.0, 200);

    assert!(t.store.delete_key(&t.key_prefix).await.unwrap());
    tokio::time::sleep(Duration::from_millis(250)).await;
    let (s, v) = t.json(models()).await;
    assert_eq!(s, 401);
    assert!(v["error"]["message"].as_str().unwrap().contains("deleted"));
}

#[tokio::test]
async fn non_streaming_response_has_the_seed_shape_field_by_field() {
    let t = setup().await;
    t.backend.set_script(vec![
        text(0, "Hello! "),
        text(0, "How can I help?"),
        finish(0, FinishReason::Stop),
        usage(77, 5, 926, 3),
    ]);
    let resp = t.send(t.chat_request(&simple_body(false))).await;
    assert_eq!(resp.status(), 201);
    assert_eq!(resp.headers()["content-type"], "application/json");
    let rid = resp.headers()["x-request-id"].to_str().unwrap().to_owned();
    let body = http_body_util::BodyExt::collect(resp.into_body())
        .await
        .unwrap()
        .to_bytes();
    let v: Value = serde_json::from_slice(&body).unwrap();

    let keys: Vec<&str> = v.as_object().unwrap().keys().map(String::as_str).collect();
    assert_eq!(
        keys,
        [
            "id",
            "system_fingerprint",
            "object",
            "choices",
            "created",
            "model",
            "usage"
        ]
    );
    let id = v["id"].as_str().unwrap();
    let parts: Vec<&str> = id.splitn(3, '-').collect();
    assert_eq!(parts[0], "gen");
    let secs: u64 = parts[1].parse().unwrap();
    assert_eq!(v["created"], secs);
    assert_eq!(parts[2].len(), 20);
    assert!(parts[2].bytes().all(|b| b.is_ascii_alphanumeric()));
    // No incoming x-request-id: the header is the completion id.
    assert_eq!(rid, id);

    let fp = v["system_fingerprint"].as_str().unwrap();
    assert!(fp.starts_with("fp_") && fp.len() == 13, "{fp}");
    assert_eq!(v["object"], "chat.completion");
    assert_eq!(v["model"], MODEL);

    let choices = v["choices"].as_array().unwrap();
    assert_eq!(choices.len(), 1);
    let c = &choices[0];
    assert_eq!(c["index"], 0);
    assert_eq!(c["finish_reason"], "stop");
    assert!(c.get("logprobs").is_some_and(Value::is_null));
    assert_eq!(
        c["message"],
        json!({"role": "assistant", "content": "Hello! How can I help?", "refusal": null})
    );

    assert_eq!(
        v["usage"],
        json!({
            "prompt_tokens": 77,
            "completion_tokens": 926,
            "total_tokens": 1003,
            "prompt_tokens_details": {"cached_tokens": 5},
            "completion_tokens_details": {"reasoning_tokens": 3},
        })
    );

    // The ledger row: once, with cost from the catalogue prices.
    let rows = t.rows().await;
    assert_eq!(rows.len(), 1);
    let r = &rows[0];
    assert_eq!(r.request_id, id);
    assert_eq!(r.model, MODEL);
    assert_eq!(r.provider, "scripted");
    assert_eq!(
        (
            r.prompt_tokens,
            r.cached_tokens,
            r.completion_tokens,
            r.reasoning_tokens
        ),
        (77, 5, 926, 3)
    );
    let expected = (72.0 * 1.0 + 5.0 * 0.5 + 926.0 * 2.0) / 1e6;
    assert!((r.cost_usd - expected).abs() < 1e-12, "{}", r.cost_usd);
    assert_eq!(r.status_code, 201);
    assert_eq!(r.outcome, "ok");
    assert!(r.ttft_ms.is_some());
    let key = t.store.list_keys().await.unwrap().remove(0);
    assert_eq!(r.key_id.as_deref(), Some(key.id.as_str()));
}

#[tokio::test]
async fn tool_calls_logprobs_and_aliases_in_the_json_response() {
    let t = setup().await;
    let lp = |tok: &str| TokenLogprob {
        token: tok.into(),
        logprob: -0.5,
        bytes: Some(tok.as_bytes().to_vec()),
        top: Vec::new(),
    };
    t.backend.set_script(vec![
        Step::Item(Ok(Event::Delta {
            index: 0,
            delta: Delta {
                tool_calls: vec![ToolCallDelta {
                    index: 0,
                    id: Some("call_1".into()),
                    name: Some("lookup".into()),
                    arguments: Some("{\"q\":".into()),
                }],
                logprobs: vec![lp("x")],
                ..Delta::default()
            },
        })),
        Step::Item(Ok(Event::Delta {
            index: 0,
            delta: Delta {
                tool_calls: vec![ToolCallDelta {
                    index: 0,
                    arguments: Some("\"a\"}".into()),
                    ..ToolCallDelta::default()
                }],
                ..Delta::default()
            },
        })),
        finish(0, FinishReason::ToolCalls),
        usage(3, 0, 2, 0),
    ]);
    let body = json!({
        "model": ALIAS,
        "messages": [{"role": "user", "content": "call it"}],
        "logprobs": true,
        "tools": [{"type": "function", "function": {"name": "lookup", "parameters": {"type": "object"}}}],
    });
    let (s, v) = t.json(t.chat_request(&body)).await;
    assert_eq!(s, 201, "{v}");
    assert_eq!(v["model"], MODEL, "aliases answer with the canonical id");
    let m = &v["choices"][0]["message"];
    assert!(m["content"].is_null());
    assert_eq!(
        m["tool_calls"],
        json!([{"id": "call_1", "type": "function", "function": {"name": "lookup", "arguments": "{\"q\":\"a\"}"}}])
    );
    assert_eq!(v["choices"][0]["finish_reason"], "tool_calls");
    assert_eq!(v["choices"][0]["logprobs"]["content"][0]["token"], "x");
    assert_eq!(v["choices"][0]["logprobs"]["content"][0]["logprob"], -0.5);
}

#[tokio::test]
async fn errors_before_output_are_json_with_status_and_one_zero_token_row() {
    let t = setup().await;
    // backend fails before the first byte
    t.backend.fail_before(Some(BackendError::Upstream {
        status: Some(500),
        detail: "10.1.2.3 exploded".into(),
    }));
    let (s, v) = t.json(t.chat_request(&simple_body(false))).await;
    assert_eq!(s, 502);
    assert_openai_error(&v, "upstream_error", "upstream_error");
    assert!(!v.to_string().contains("10.1.2.3"));
    t.backend.fail_before(None);

    // the stream fails before any output (non-streaming request)
    t.backend
        .set_script(vec![Step::Item(Err(BackendError::Timeout {
            detail: "idle".into(),
        }))]);
    let (s, v) = t.json(t.chat_request(&simple_body(false))).await;
    assert_eq!(s, 504);
    assert_openai_error(&v, "timeout_error", "upstream_timeout");

    // unknown model
    let body = json!({"model": "nope/nope", "messages": [{"role": "user", "content": "x"}]});
    let (s, v) = t.json(t.chat_request(&body)).await;
    assert_eq!(s, 404);
    assert_openai_error(&v, "invalid_request_error", "model_not_found");
    assert_eq!(v["error"]["param"], "model");

    // unsupported parameter for this model
    let body = json!({
        "model": MODEL,
        "messages": [{"role": "user", "content": [
            {"type": "text", "text": "look"},
            {"type": "image_url", "image_url": {"url": "https://x/y.png"}}
        ]}],
    });
    let (s, v) = t.json(t.chat_request(&body)).await;
    assert_eq!(s, 400);
    assert_eq!(v["error"]["param"], "messages[0].content[1]");

    // validation failure
    let body =
        json!({"model": MODEL, "messages": [{"role": "user", "content": "x"}], "temperature": 3});
    let (s, v) = t.json(t.chat_request(&body)).await;
    assert_eq!(s, 400);
    assert_eq!(v["error"]["param"], "temperature");

    let rows = t.rows().await;
    assert_eq!(rows.len(), 5);
    let mut got: Vec<(u16, &str, &str)> = rows
        .iter()
        .map(|r| (r.status_code, r.outcome.as_str(), r.model.as_str()))
        .collect();
    got.sort();
    assert_eq!(
        got,
        vec![
            (400, "invalid_request", ""),
            (400, "invalid_request", MODEL),
            (404, "model_not_found", "nope/nope"),
            (502, "upstream_error", MODEL),
            (504, "timeout", MODEL),
        ]
    );
    for r in &rows {
        assert_eq!(r.prompt_tokens + r.completion_tokens, 0);
        assert_eq!(r.cost_usd, 0.0);
    }
}

#[tokio::test]
async fn not_found_method_not_allowed_and_payload_too_large_are_openai_shaped() {
    let settings = HttpSettings {
        max_body_bytes: 1024,
        ..HttpSettings::default()
    };
    let t = setup_with(settings, Vec::new()).await;

    let (s, h, body) = t.call(get("/v2/nothing", None)).await;
    assert_eq!(s, 404);
    assert!(h.contains_key("x-request-id"));
    let v: Value = serde_json::from_str(&body).unwrap();
    assert_openai_error(&v, "invalid_request_error", "unknown_url");

    let (s, h, body) = t.call(get("/v1/chat/completions", Some(&t.key))).await;
    assert_eq!(s, 405);
    assert!(h["allow"].to_str().unwrap().contains("POST"));
    let v: Value = serde_json::from_str(&body).unwrap();
    assert_openai_error(&v, "invalid_request_error", "method_not_allowed");

    let big = json!({"model": MODEL, "messages": [{"role": "user", "content": "x".repeat(2000)}]});
    let (s, v) = t.json(t.chat_request(&big)).await;
    assert_eq!(s, 413);
    assert_openai_error(&v, "invalid_request_error", "payload_too_large");

    // Without Content-Length (streamed body), the limit still holds.
    let chunks: Vec<Result<&'static [u8], std::io::Error>> =
        vec![Ok(&[b' '; 800][..]), Ok(&[b' '; 800][..])];
    let req = Request::post("/v1/chat/completions")
        .header("authorization", format!("Bearer {}", t.key))
        .header("content-type", "application/json")
        .body(Body::from_stream(futures::stream::iter(chunks)))
        .unwrap();
    let (s, v) = t.json(req).await;
    assert_eq!(s, 413);
    assert_openai_error(&v, "invalid_request_error", "payload_too_large");

    let (s, v) = t.json(get("/health", None)).await;
    assert_eq!((s.as_u16(), v), (200, json!({"status": "ok"})));
}

#[tokio::test]
async fn x_request_id_is_generated_or_echoed_when_sane() {
    let t = setup().await;
    let (_, h, _) = t.call(get("/health", None)).await;
    let generated = h["x-request-id"].to_str().unwrap();
    assert!(generated.starts_with("gen-"), "{generated}");

    let req = Request::get("/health")
        .header("x-request-id", "client-abc.123")
        .body(Body::empty())
        .unwrap();
    let (_, h, _) = t.call(req).await;
    assert_eq!(h["x-request-id"], "client-abc.123");

    let req = Request::get("/health")
        .header("x-request-id", "bad id with spaces")
        .body(Body::empty())
        .unwrap();
    let (_, h, _) = t.call(req).await;
    assert_ne!(h["x-request-id"], "bad id with spaces");

    // A chat request with a client id keeps the header, but the completion
    // (and the ledger) use a server-generated id.
    t.backend.set_script(vec![
        text(0, "a"),
        finish(0, FinishReason::Stop),
        usage(1, 0, 1, 0),
    ]);
    let mut req = t.chat_request(&simple_body(false));
    req.headers_mut()
        .insert("x-request-id", "retry-1".parse().unwrap());
    let (s, h, body) = t.call(req).await;
    assert_eq!(s, 201);
    assert_eq!(h["x-request-id"], "retry-1");
    let v: Value = serde_json::from_str(&body).unwrap();
    let rows = t.rows().await;
    assert_eq!(rows[0].request_id, v["id"].as_str().unwrap());
}

#[tokio::test]
async fn models_list_has_the_reference_shape_and_filters() {
    let extra = vec![
        {
            let mut m = catalogue_model("vendor/vision-1", &["vision-1", "v1"], "scripted");
            m.capabilities.vision = true;
            m.context_length = None;
            m
        },
        catalogue_model("vendor/plain-2", &[], "scripted"),
    ];
    let t = setup_with(HttpSettings::default(), extra).await;
    let list = |q: &str| get(&format!("/v1/models{q}"), Some(&t.key));

    let (s, v) = t.json(list("")).await;
    assert_eq!(s, 200);
    assert_eq!(v["object"], "list");
    let data = v["data"].as_array().unwrap();
    assert_eq!(data.len(), 3);
    let m = &data[0];
    assert_eq!(m["id"], MODEL);
    assert_eq!(m["aliases"], json!([ALIAS]));
    assert_eq!(m["type"], "openai/chat-completions");
    assert_eq!(m["tags"], json!([]));
    assert_eq!(
        m["info"],
        json!({
            "name": "Scripted",
            "developer": "Switchyard",
            "description": "A scripted test model.",
            "contextLength": 131072,
            "outputMax": 4096,
        })
    );
    for section in ["pricing", "capabilities", "modalities"] {
        assert!(m.get(section).is_none(), "{section} without include");
    }
    assert!(data[1]["info"].get("contextLength").is_none());

    let (_, v) = t
        .json(list("?include=pricing,capabilities&include=bogus"))
        .await;
    let m = &v["data"][0];
    assert_eq!(m["pricing"]["kind"], "fixed");
    assert_eq!(m["pricing"]["currency"], "USD");
    assert_eq!(
        m["pricing"]["units"],
        json!([
            {"unit": "input_tokens", "price": 1.0, "per": 1000000},
            {"unit": "cached_input_tokens", "price": 0.5, "per": 1000000},
            {"unit": "output_tokens", "price": 2.0, "per": 1000000},
        ])
    );
    let caps = m["capabilities"].as_array().unwrap();
    assert!(caps.contains(&json!("streaming")) && caps.contains(&json!("tools")));
    assert!(!caps.contains(&json!("vision")));
    assert!(m.get("modalities").is_none());

    // repeated include values and `all` / `details`
    let (_, v) = t.json(list("?include=pricing&include=modalities")).await;
    assert!(v["data"][0].get("pricing").is_some() && v["data"][0].get("modalities").is_some());
    for q in ["?include=all", "?details=true", "?details=1"] {
        let (_, v) = t.json(list(q)).await;
        let m = &v["data"][1];
        assert_eq!(m["modalities"]["input"], json!(["text", "image"]), "{q}");
        assert_eq!(m["modalities"]["output"], json!(["text"]));
        assert!(m.get("pricing").is_some() && m.get("capabilities").is_some());
    }

    let ids = |v: &Value| -> Vec<String> {
        v["data"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| m["id"].as_str().unwrap().to_owned())
            .collect()
    };
    // id matches id or alias; comma and repeat are OR
    let (_, v) = t.json(list("?id=v1")).await;
    assert_eq!(ids(&v), ["vendor/vision-1"]);
    let (_, v) = t.json(list(&format!("?id={ALIAS},vendor/plain-2"))).await;
    assert_eq!(ids(&v), [MODEL, "vendor/plain-2"]);
    let (_, v) = t.json(list("?id=vendor/plain-2&id=vision-1")).await;
    assert_eq!(ids(&v), ["vendor/vision-1", "vendor/plain-2"]);
    let (_, v) = t.json(list("?id=missing")).await;
    assert_eq!(ids(&v), Vec::<String>::new());
    // type filter
    let (_, v) = t.json(list("?type=openai/chat-completions")).await;
    assert_eq!(ids(&v).len(), 3);
    let (_, v) = t.json(list("?type=openai/images")).await;
    assert!(ids(&v).is_empty());
    // capability and modality filters, AND-ed with id
    let (_, v) = t.json(list("?capabilities=vision")).await;
    assert_eq!(ids(&v), ["vendor/vision-1"]);
    let (_, v) = t
        .json(list("?input_modalities=image&id=vendor/plain-2"))
        .await;
    assert!(ids(&v).is_empty());

    // ETag / If-None-Match
    let (_, h, _) = t.call(list("")).await;
    let etag = h["etag"].to_str().unwrap().to_owned();
    let req = Request::get("/v1/models")
        .header("authorization", format!("Bearer {}", t.key))
        .header("if-none-match", &etag)
        .body(Body::empty())
        .unwrap();
    assert_eq!(t.call(req).await.0, 304);

    // auth is required
    assert_eq!(t.call(get("/v1/models", None)).await.0, 401);
}

#[tokio::test]
async fn metrics_counters_move() {
    let t = setup().await;
    let scrape = || async {
        let (s, h, body) = t.call(get("/metrics", None)).await;
        assert_eq!(s, 200);
        assert!(
            h["content-type"]
                .to_str()
                .unwrap()
                .starts_with("text/plain")
        );
        body
    };
    let value = |text: &str, series: &str| -> u64 {
        text.lines()
            .find_map(|l| l.strip_prefix(series).and_then(|r| r.strip_prefix(' ')))
            .map_or(0, |v| v.trim().parse::<f64>().unwrap() as u64)
    };
    let before = scrape().await;
    let ok_series = format!("switchyard_requests_total{{model=\"{MODEL}\",status=\"201\"}}");
    assert_eq!(value(&before, &ok_series), 0);

    t.backend.set_script(vec![
        text(0, "a"),
        finish(0, FinishReason::Stop),
        usage(10, 0, 4, 0),
    ]);
    for _ in 0..2 {
        assert_eq!(t.call(t.chat_request(&simple_body(false))).await.0, 201);
    }
    let after = scrape().await;
    assert_eq!(value(&after, &ok_series), 2);
    assert_eq!(
        value(
            &after,
            &format!("switchyard_prompt_tokens_total{{model=\"{MODEL}\"}}")
        ),
        20
    );
    assert_eq!(
        value(
            &after,
            &format!("switchyard_completion_tokens_total{{model=\"{MODEL}\"}}")
        ),
        8
    );
    assert_eq!(
        value(&after, "switchyard_request_duration_seconds_count"),
        2
    );
    assert_eq!(
        value(&after, "switchyard_time_to_first_token_seconds_count"),
        2
    );
    assert_eq!(
        value(
            &after,
            "switchyard_request_duration_seconds_bucket{le=\"+Inf\"}"
        ),
        2
    );
    assert!(value(&after, "switchyard_http_responses_total{status=\"200\"}") >= 1);
}
