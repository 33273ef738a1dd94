//! The axum routes of the mock upstream.

use std::{
    sync::Arc,
    time::{SystemTime, UNIX_EPOCH},
};

use axum::{
    Json, Router,
    body::{Body, Bytes},
    extract::State,
    http::{HeaderMap, HeaderValue, StatusCode, header},
    response::{IntoResponse, Response},
    routing::{get, post},
    serve::ListenerExt,
};
use serde_json::{Value, json};

use crate::{Behaviour, InFlight, Shared, StreamGuard, answer::Answer};

pub(crate) async fn serve(listener: tokio::net::TcpListener, shared: Arc<Shared>) {
    let app = Router::new()
        .route("/v1/chat/completions", post(chat))
        .route("/v1/models", get(models))
        .with_state(shared);
    let listener = listener.tap_io(|tcp| {
        let _ = tcp.set_nodelay(true);
    });
    let _ = axum::serve(listener, app).await;
}

async fn models() -> Json<Value> {
    Json(json!({
        "object": "list",
        "data": [{ "id": "mock-model", "object": "model", "created": 0, "owned_by": "switchyard-testkit" }],
    }))
}

fn error_response(status: StatusCode, message: &str) -> Response {
    let kind = if status.is_server_error() {
        "server_error"
    } else if status == StatusCode::TOO_MANY_REQUESTS {
        "rate_limit_error"
    } else {
        "invalid_request_error"
    };
    let body = json!({
        "error": { "message": message, "type": kind, "param": null, "code": status.as_u16().to_string() }
    });
    let mut resp = (status, Json(body)).into_response();
    if status == StatusCode::TOO_MANY_REQUESTS {
        resp.headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
    }
    resp
}

async fn chat(State(shared): State<Arc<Shared>>, headers: HeaderMap, body: Bytes) -> Response {
    let in_flight = InFlight::new(shared.clone());
    let parsed: Option<Value> = serde_json::from_slice(&body).ok();
    let number = shared.record(&headers, parsed.as_ref());
    let Some(body) = parsed.filter(Value::is_object) else {
        return error_response(
            StatusCode::BAD_REQUEST,
            "mock: request body is not a JSON object",
        );
    };
    if !body.get("messages").is_some_and(Value::is_array) {
        return error_response(StatusCode::BAD_REQUEST, "mock: 'messages' must be an array");
    }
    let model = body.get("model").and_then(Value::as_str).unwrap_or("");
    let behaviour = Behaviour::from_model(model);
    match behaviour {
        Behaviour::Fail(code) => {
            let status = StatusCode::from_u16(code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
            let msg = if code == 400 {
                "mock: invalid request (the 'messages' parameter was rejected)".to_owned()
            } else {
                format!("mock upstream error {code}")
            };
            return error_response(status, &msg);
        }
        Behaviour::Flaky(n) if shared.flaky_seen(model) < n => {
            return error_response(StatusCode::SERVICE_UNAVAILABLE, "mock: flaky, try again");
        }
        Behaviour::Hang => std::future::pending::<()>().await,
        Behaviour::SlowFirstByte(d) => tokio::time::sleep(d).await,
        _ => {}
    }
    let answer = Answer::from_request(&body, behaviour);
    let id = format!("chatcmpl-mock-{number}");
    let created = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let stream = body.get("stream").and_then(Value::as_bool) == Some(true);
    if !stream {
        if behaviour == Behaviour::InvalidJson {
            return (
                [(header::CONTENT_TYPE, "application/json")],
                "this is not json",
            )
                .into_response();
        }
        return Json(answer.completion(&id, created)).into_response();
    }
    let frames = frames(&answer, behaviour, &id, created);
    sse_response(frames, behaviour, StreamGuard::new(shared), in_flight)
}

/// The SSE events of a streamed answer, each a complete event ready to write.
fn frames(answer: &Answer, behaviour: Behaviour, id: &str, created: u64) -> Vec<Bytes> {
    if behaviour == Behaviour::InvalidJson {
        return vec![
            Bytes::from_static(b"data: this is not json\n\n"),
            Bytes::from_static(b"data: [DONE]\n\n"),
        ];
    }
    let chunk = |choices: Value| {
        json!({
            "id": id, "object": "chat.completion.chunk", "created": created,
            "model": answer.model, "system_fingerprint": "fp_mock", "choices": choices,
        })
    };
    let choice = |i: u32, delta: Value, logprobs: Value, finish: Value| json!([{ "index": i, "delta": delta, "logprobs": logprobs, "finish_reason": finish }]);
    let mut chunks = Vec::new();
    for i in 0..answer.n {
        let delta = json!({ "role": "assistant", "content": "" });
        chunks.push(chunk(choice(i, delta, Value::Null, Value::Null)));
    }
    for (pos, piece) in answer.pieces.iter().enumerate() {
        for i in 0..answer.n {
            let (delta, logprobs) = answer.piece_chunk(i, pos, piece);
            chunks.push(chunk(choice(i, delta, logprobs, Value::Null)));
        }
    }
    if behaviour == Behaviour::ErrorEvent {
        chunks.truncate(2);
        chunks.push(json!({ "error": {
            "message": "mock: upstream failed mid-stream", "type": "server_error", "code": 502,
        }}));
        return chunks.iter().map(data_frame).collect();
    }
    for i in 0..answer.n {
        chunks.push(chunk(choice(
            i,
            json!({}),
            Value::Null,
            json!(answer.finish),
        )));
    }
    if answer.include_usage && behaviour != Behaviour::NoUsage {
        let mut usage = chunk(json!([]));
        usage["usage"] = answer.usage();
        chunks.push(usage);
    }
    if behaviour == Behaviour::QuirkySse {
        let mut out = vec![Bytes::from_static(b": mock keep-alive\r\n\r\n")];
        for (n, c) in chunks.iter().enumerate() {
            out.push(quirky_frame(c, n));
        }
        out.push(Bytes::from_static(b"event: message\r\ndata:[DONE]\r\n\r\n"));
        return out;
    }
    let mut out: Vec<Bytes> = chunks.iter().map(data_frame).collect();
    out.push(Bytes::from_static(b"data: [DONE]\n\n"));
    out
}

fn data_frame(v: &Value) -> Bytes {
    Bytes::from(format!("data: {v}\n\n"))
}

/// An event with a comment, `event:` and `id:` lines, and its JSON pretty-printed
/// over several `data:` lines (alternately with and without the optional space).
fn quirky_frame(v: &Value, n: usize) -> Bytes {
    let pretty = serde_json::to_string_pretty(v).unwrap_or_default();
    let mut s = format!(": chunk {n}\r\nevent: message\r\nid: {n}\r\n");
    for (i, line) in pretty.lines().enumerate() {
        let sep = if i % 2 == 0 { " " } else { "" };
        s.push_str(&format!("data:{sep}{line}\r\n"));
    }
    s.push_str("\r\n");
    Bytes::from(s)
}

fn sse_response(
    frames: Vec<Bytes>,
    behaviour: Behaviour,
    guard: StreamGuard,
    in_flight: InFlight,
) -> Response {
    let delay = match behaviour {
        Behaviour::SlowStream(d) => Some(d),
        _ => None,
    };
    let stop_after = match behaviour {
        Behaviour::CutStream | Behaviour::StallMidStream => Some(2),
        _ => None,
    };
    let body = async_stream::stream! {
        let mut guard = guard;
        let _in_flight = in_flight;
        for (n, frame) in frames.into_iter().enumerate() {
            if stop_after == Some(n) {
                break;
            }
            if let (Some(d), true) = (delay, n > 0) {
                tokio::time::sleep(d).await;
            }
            yield Ok::<Bytes, std::io::Error>(frame);
        }
        match behaviour {
            Behaviour::StallMidStream => std::future::pending::<()>().await,
            Behaviour::CutStream => {
                guard.finish();
                // Let hyper flush what was sent, so the client really sees a
                // started stream. An error from the body makes hyper abort the connection
                // without the terminating chunk: the client sees a cut stream.
                tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                yield Err(std::io::Error::other("mock: cutting the stream"));
            }
            _ => guard.finish(),
        }
    };
    let mut resp = Response::new(Body::from_stream(body));
    let h = resp.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/event-stream"),
    );
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    resp
}
