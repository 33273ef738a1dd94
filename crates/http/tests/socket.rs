//! Over a real TCP socket: serve(), client disconnects, graceful shutdown.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::time::{Duration, Instant};

use common::*;
use serde_json::{Value, json};
use switchyard_core::FinishReason;
use switchyard_http::{HttpSettings, serve};
use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::{TcpListener, TcpStream},
    sync::oneshot,
    task::JoinHandle,
};

struct Running {
    addr: std::net::SocketAddr,
    stop: Option<oneshot::Sender<()>>,
    task: JoinHandle<std::io::Result<()>>,
}

async fn start(t: &TestApp) -> Running {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (tx, rx) = oneshot::channel::<()>();
    let state = t.state.clone();
    let task = tokio::spawn(serve(listener, state, async move {
        let _ = rx.await;
    }));
    Running {
        addr,
        stop: Some(tx),
        task,
    }
}

impl Running {
    async fn shutdown(mut self) -> Duration {
        let t0 = Instant::now();
        let _ = self.stop.take().unwrap().send(());
        tokio::time::timeout(Duration::from_secs(10), self.task)
            .await
            .expect("serve() returned")
            .unwrap()
            .unwrap();
        t0.elapsed()
    }
}

/// Writes a raw HTTP/1.1 chat request.
async fn raw_chat(addr: std::net::SocketAddr, key: &str, body: &Value) -> TcpStream {
    let body = body.to_string();
    let mut s = TcpStream::connect(addr).await.unwrap();
    let req = format!(
        "POST /v1/chat/completions HTTP/1.1\r\nhost: x\r\nauthorization: Bearer {key}\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n{body}",
        body.len()
    );
    s.write_all(req.as_bytes()).await.unwrap();
    s
}

/// Reads until `needle` occurs `times` times in the received bytes.
async fn read_until(s: &mut TcpStream, needle: &str, times: usize) -> String {
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let text = String::from_utf8_lossy(&got).to_string();
        if text.matches(needle).count() >= times {
            return text;
        }
        assert!(Instant::now() < deadline, "timed out; got {text}");
        let n = tokio::time::timeout(Duration::from_secs(5), s.read(&mut buf))
            .await
            .unwrap()
            .unwrap();
        assert!(n > 0, "server closed early; got {text}");
        got.extend_from_slice(&buf[..n]);
    }
}

async fn wait_for(mut f: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(5);
    while !f() {
        assert!(Instant::now() < deadline, "condition not reached");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

#[tokio::test]
async fn json_and_stream_over_a_real_socket() {
    let t = setup().await;
    t.backend.set_script(vec![
        text(0, "hi"),
        text(0, " there"),
        finish(0, FinishReason::Stop),
        usage(3, 0, 2, 0),
    ]);
    let srv = start(&t).await;
    let client = reqwest::Client::new();
    let url = format!("http://{}/v1/chat/completions", srv.addr);

    let resp = client
        .post(&url)
        .bearer_auth(&t.key)
        .json(&simple_body(false))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 201);
    assert!(resp.headers().contains_key("x-request-id"));
    let v: Value = resp.json().await.unwrap();
    assert_eq!(v["choices"][0]["message"]["content"], "hi there");

    let mut body = simple_body(true);
    body["stream_options"] = json!({"include_usage": true});
    let resp = client
        .post(&url)
        .bearer_auth(&t.key)
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let text_body = resp.text().await.unwrap();
    let data = sse_data(&text_body);
    assert_eq!(data.len(), 5, "{text_body}");
    assert_eq!(data[4], "[DONE]");

    let health = client
        .get(format!("http://{}/health", srv.addr))
        .send()
        .await
        .unwrap();
    assert_eq!(health.status(), 200);

    srv.shutdown().await;
    assert_eq!(t.store.count_usage(None).await.unwrap(), 2);
}

#[tokio::test]
async fn client_disconnect_mid_stream_cancels_upstream_and_writes_one_row() {
    let t = setup().await;
    t.backend
        .set_script(vec![text(0, "first"), text(0, "second"), Step::Hang]);
    let srv = start(&t).await;

    let mut s = raw_chat(srv.addr, &t.key, &simple_body(true)).await;
    let got = read_until(&mut s, "\"content\":", 2).await;
    assert!(got.starts_with("HTTP/1.1 200"), "{got}");
    assert_eq!(t.backend.cancelled(), 0);
    drop(s);

    // The upstream stream is dropped and exactly one row is written.
    wait_for(|| t.backend.cancelled() == 1).await;
    let rows = t.wait_rows(1).await;
    tokio::time::sleep(Duration::from_millis(100)).await;
    let rows_later = t.store.recent_usage(10).await.unwrap();
    assert_eq!(rows.len(), 1);
    assert_eq!(rows_later.len(), 1);
    let r = &rows[0];
    assert_eq!(r.outcome, "client_disconnected");
    assert_eq!(r.status_code, 200);
    assert_eq!(r.completion_tokens, 2, "the two delivered content events");
    assert_eq!(r.prompt_tokens, 0);
    assert!((r.cost_usd - 2.0 * 2.0 / 1e6).abs() < 1e-12);
    assert!(r.ttft_ms.is_some());
    assert_eq!(
        t.state.metrics().requests_count(MODEL, 200),
        1,
        "the disconnect is counted in metrics too"
    );
    srv.shutdown().await;
}

#[tokio::test]
async fn client_disconnect_while_waiting_for_a_non_streaming_answer() {
    let t = setup().await;
    t.backend.set_script(vec![text(0, "thinking"), Step::Hang]);
    let srv = start(&t).await;

    let s = raw_chat(srv.addr, &t.key, &simple_body(false)).await;
    wait_for(|| t.backend.calls.load(std::sync::atomic::Ordering::SeqCst) == 1).await;
    tokio::time::sleep(Duration::from_millis(50)).await;
    drop(s);

    wait_for(|| t.backend.cancelled() == 1).await;
    let rows = t.wait_rows(1).await;
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0].outcome, "client_disconnected");
    assert_eq!(rows[0].status_code, 499);
    assert_eq!(rows[0].completion_tokens, 0, "nothing was delivered");
    srv.shutdown().await;
}

#[tokio::test]
async fn graceful_shutdown_lets_running_streams_finish_and_flushes_usage() {
    let settings = HttpSettings {
        shutdown_grace: Duration::from_secs(5),
        ..HttpSettings::default()
    };
    let t = setup_with(settings, Vec::new()).await;
    t.backend.set_script(vec![
        text(0, "a"),
        Step::Sleep(Duration::from_millis(300)),
        text(0, "b"),
        finish(0, FinishReason::Stop),
        usage(1, 0, 2, 0),
    ]);
    let srv = start(&t).await;
    let addr = srv.addr;
    let mut s = raw_chat(addr, &t.key, &simple_body(true)).await;
    read_until(&mut s, "\"content\":", 1).await;

    let stopping = tokio::spawn(srv.shutdown());
    tokio::time::sleep(Duration::from_millis(50)).await;
    // No new connections are accepted.
    let refused = TcpStream::connect(addr).await;
    assert!(refused.is_err(), "listener closed during shutdown");

    let rest = read_until(&mut s, "[DONE]", 1).await;
    assert!(rest.contains("\"content\":\"b\""), "{rest}");
    let took = stopping.await.unwrap();
    assert!(took < Duration::from_secs(4), "{took:?}");
    // serve() returned only after the usage row was written.
    let rows = t.store.recent_usage(10).await.unwrap();
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0].outcome, "ok");
    assert_eq!(t.backend.cancelled(), 0);
}

#[tokio::test]
async fn streams_still_running_after_the_grace_are_cut_and_recorded() {
    let settings = HttpSettings {
        shutdown_grace: Duration::from_millis(200),
        ..HttpSettings::default()
    };
    let t = setup_with(settings, Vec::new()).await;
    t.backend.set_script(vec![text(0, "a"), Step::Hang]);
    let srv = start(&t).await;
    let mut s = raw_chat(srv.addr, &t.key, &simple_body(true)).await;
    read_until(&mut s, "\"content\":", 1).await;

    let took = srv.shutdown().await;
    assert!(
        took >= Duration::from_millis(200) && took < Duration::from_secs(3),
        "{took:?}"
    );
    assert_eq!(t.backend.cancelled(), 1);
    let rows = t.store.recent_usage(10).await.unwrap();
    assert_eq!(rows.len(), 1, "written before serve() returned");
    assert_eq!(rows[0].outcome, "shutdown");
    assert_eq!(rows[0].completion_tokens, 1);
}
