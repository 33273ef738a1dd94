//! End to end through the real OpenAI-compatible provider against the mock upstream.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::{collections::HashMap, sync::Arc, time::Duration};

use serde_json::{Value, json};
use switchyard_core::{Backend, Capabilities, Prices};
use switchyard_http::{AppState, HttpSettings, serve};
use switchyard_platform::{KeyKind, NewKey};
use switchyard_provider::{OpenAiProvider, ProviderSettings, RetryPolicy, Timeouts};
use switchyard_router::{CatalogueModel, Route, Router};
use switchyard_store::Store;
use switchyard_testkit::MockUpstream;
use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::{TcpListener, TcpStream},
};

const UPSTREAM_KEY: &str = "upstream-secret-key";
const PRICES: Prices = Prices {
    prompt: 5.0,
    cached_prompt: Some(2.5),
    completion: 15.0,
};

fn model(id: &str, upstream: &str) -> CatalogueModel {
    CatalogueModel {
        id: id.into(),
        aliases: Vec::new(),
        primary: Route {
            provider: "mock".into(),
            upstream_model: upstream.into(),
        },
        fallbacks: Vec::new(),
        context_length: Some(8192),
        max_output: None,
        prices: PRICES,
        capabilities: Capabilities::default(),
        name: id.into(),
        developer: "mock".into(),
        description: String::new(),
    }
}

struct E2e {
    mock: MockUpstream,
    store: Store,
    state: AppState,
    key: String,
    addr: std::net::SocketAddr,
    stop: tokio::sync::oneshot::Sender<()>,
    server: tokio::task::JoinHandle<std::io::Result<()>>,
}

async fn setup() -> E2e {
    let mock = MockUpstream::start().await;
    let mut settings = ProviderSettings::new("mock", mock.base_url());
    settings.api_key = Some(UPSTREAM_KEY.into());
    settings.retry = RetryPolicy {
        max_retries: 1,
        base_delay: Duration::from_millis(1),
        max_delay: Duration::from_millis(5),
    };
    settings.timeouts = Timeouts {
        connect: Duration::from_secs(2),
        first_byte: Duration::from_secs(2),
        idle: Duration::from_secs(2),
    };
    let provider: Arc<dyn Backend> = Arc::new(OpenAiProvider::new(settings).unwrap());
    let mut backends = HashMap::new();
    backends.insert("mock".to_string(), provider);
    let router = Router::new(
        vec![
            model("x-ai/grok-beta", "grok-beta"),
            model("mock/fail", "fail-500"),
            model("mock/cut", "cut-stream"),
            model("mock/slow", "slow-stream-150"),
        ],
        backends,
    )
    .unwrap();
    let store = Store::open_in_memory().await.unwrap();
    let state = AppState::new(Arc::new(router), store.clone(), HttpSettings::default());
    let platform = state.platform();
    let admin = platform.bootstrap_admin().await.unwrap();
    let key = platform
        .create_key(
            &admin.id,
            NewKey {
                name: Some("e2e".into()),
                kind: KeyKind::Regular,
                scopes: None,
                limit: None,
            },
        )
        .await
        .unwrap()
        .secret;
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (stop, rx) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(serve(listener, state.clone(), async move {
        let _ = rx.await;
    }));
    E2e {
        mock,
        store,
        state,
        key,
        addr,
        stop,
        server,
    }
}

impl E2e {
    async fn post(&self, body: &Value) -> reqwest::Response {
        reqwest::Client::new()
            .post(format!("http://{}/v1/chat/completions", self.addr))
            .bearer_auth(&self.key)
            .json(body)
            .send()
            .await
            .unwrap()
    }

    async fn finish(self) -> Vec<switchyard_store::UsageRow> {
        let _ = self.stop.send(());
        self.server.await.unwrap().unwrap();
        self.store.recent_usage(100).await.unwrap()
    }
}

fn ask(model: &str, text: &str, stream: bool) -> Value {
    json!({"model": model, "messages": [{"role": "user", "content": text}], "stream": stream})
}

#[tokio::test]
async fn seed_request_through_the_provider_gets_the_seed_shape_and_a_priced_row() {
    let e = setup().await;
    let resp = e
        .post(&ask("x-ai/grok-beta", "one two three four", false))
        .await;
    assert_eq!(resp.status(), 201);
    let v: Value = resp.json().await.unwrap();
    assert_eq!(v["object"], "chat.completion");
    assert_eq!(v["model"], "x-ai/grok-beta");
    assert_eq!(v["choices"][0]["message"]["content"], "four three two one");
    assert_eq!(v["choices"][0]["finish_reason"], "stop");
    assert!(v["choices"][0]["message"]["refusal"].is_null());
    // mock usage: prompt = 4 words, cached = 2, completion = 4 pieces, reasoning = 2
    assert_eq!(
        v["usage"],
        json!({"prompt_tokens": 4, "completion_tokens": 4, "total_tokens": 8,
               "prompt_tokens_details": {"cached_tokens": 2},
               "completion_tokens_details": {"reasoning_tokens": 2}})
    );
    // The upstream saw its own key and model name, never the client's key.
    assert_eq!(
        e.mock.last_authorization().as_deref(),
        Some(format!("Bearer {UPSTREAM_KEY}").as_str())
    );
    assert_eq!(e.mock.last_request().unwrap()["model"], "grok-beta");
    let id = v["id"].as_str().unwrap().to_owned();
    let key = e.key.clone();
    let rows = e.finish().await;
    assert_eq!(rows.len(), 1);
    let r = &rows[0];
    assert_eq!(r.request_id, id);
    assert_eq!(
        (
            r.prompt_tokens,
            r.cached_tokens,
            r.completion_tokens,
            r.reasoning_tokens
        ),
        (4, 2, 4, 2)
    );
    let expected = (2.0 * 5.0 + 2.0 * 2.5 + 4.0 * 15.0) / 1e6;
    assert!((r.cost_usd - expected).abs() < 1e-12);
    assert_eq!(r.provider, "mock");
    assert!(!format!("{r:?}").contains(&key));
}

#[tokio::test]
async fn streaming_with_usage_through_the_provider() {
    let e = setup().await;
    let mut body = ask("x-ai/grok-beta", "a b c", true);
    body["stream_options"] = json!({"include_usage": true});
    let resp = e.post(&body).await;
    assert_eq!(resp.status(), 200);
    let text = resp.text().await.unwrap();
    let data: Vec<&str> = text
        .split("\n\n")
        .filter_map(|ev| ev.strip_prefix("data: "))
        .collect();
    assert_eq!(*data.last().unwrap(), "[DONE]");
    let chunks: Vec<Value> = data[..data.len() - 1]
        .iter()
        .map(|d| serde_json::from_str(d).unwrap())
        .collect();
    let content: String = chunks
        .iter()
        .filter_map(|c| c["choices"][0]["delta"]["content"].as_str())
        .collect();
    assert_eq!(content.trim(), "c b a");
    assert_eq!(chunks[0]["choices"][0]["delta"]["role"], "assistant");
    let usage_chunk = chunks.last().unwrap();
    assert_eq!(usage_chunk["choices"], json!([]));
    assert_eq!(usage_chunk["usage"]["prompt_tokens"], 3);
    assert!(
        chunks
            .iter()
            .any(|c| c["choices"][0]["finish_reason"] == "stop")
    );
    let rows = e.finish().await;
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0].outcome, "ok");
    assert_eq!(rows[0].prompt_tokens, 3);
}

#[tokio::test]
async fn upstream_500_and_cut_stream_give_clean_errors_and_one_row_each() {
    let e = setup().await;
    let resp = e.post(&ask("mock/fail", "x", false)).await;
    assert_eq!(resp.status(), 502);
    let v: Value = resp.json().await.unwrap();
    assert_eq!(v["error"]["type"], "upstream_error");
    assert!(!v.to_string().contains("127.0.0.1"));

    let resp = e
        .post(&ask("mock/cut", "one two three four five", true))
        .await;
    assert_eq!(resp.status(), 200);
    let text = resp.text().await.unwrap();
    let last = text
        .split("\n\n")
        .filter_map(|ev| ev.strip_prefix("data: "))
        .last()
        .unwrap();
    let err: Value = serde_json::from_str(last).unwrap();
    assert!(err["error"]["message"].is_string(), "{text}");
    assert!(text.contains("\"content\":\"five"), "{text}");
    assert!(!text.contains("[DONE]"));

    let rows = e.finish().await;
    assert_eq!(rows.len(), 2);
    let fail = rows.iter().find(|r| r.model == "mock/fail").unwrap();
    assert_eq!(
        (fail.status_code, fail.outcome.as_str()),
        (502, "upstream_error")
    );
    assert_eq!(fail.completion_tokens, 0);
    let cut = rows.iter().find(|r| r.model == "mock/cut").unwrap();
    assert_eq!(cut.outcome, "upstream_error");
    // the mock sends a role chunk and one word before the cut: one delivered content event
    assert_eq!(cut.completion_tokens, 1);
}

#[tokio::test]
async fn client_disconnect_cancels_the_upstream_request_and_writes_one_row() {
    let e = setup().await;
    let body = ask("mock/slow", "w1 w2 w3 w4 w5 w6 w7 w8 w9 w10 w11 w12", true).to_string();
    let mut s = TcpStream::connect(e.addr).await.unwrap();
    let req = format!(
        "POST /v1/chat/completions HTTP/1.1\r\nhost: x\r\nauthorization: Bearer {}\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n{body}",
        e.key,
        body.len()
    );
    s.write_all(req.as_bytes()).await.unwrap();
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    while String::from_utf8_lossy(&got)
        .matches("\"content\":\"w")
        .count()
        < 1
    {
        let n = tokio::time::timeout(Duration::from_secs(5), s.read(&mut buf))
            .await
            .unwrap()
            .unwrap();
        assert!(n > 0);
        got.extend_from_slice(&buf[..n]);
    }
    drop(s);
    assert!(
        e.mock
            .eventually(Duration::from_secs(5), |m| m.cancelled_streams() == 1)
            .await,
        "upstream stream was cancelled"
    );
    let state = e.state.clone();
    state.drain().await;
    let rows = e.finish().await;
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0].outcome, "client_disconnected");
    assert!(rows[0].completion_tokens >= 1 && rows[0].completion_tokens < 12);
}
