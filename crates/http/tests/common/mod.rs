//! Shared fixtures: a scripted backend, a catalogue with one model, a store
//! with a real key, helpers to drive the app.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::{
    collections::HashMap,
    pin::Pin,
    sync::{
        Arc, Mutex,
        atomic::{AtomicU64, Ordering},
    },
    task::{Context, Poll},
    time::{Duration, Instant},
};

use axum::{
    body::Body,
    http::{Request, Response, StatusCode},
};
use futures::Stream;
use http_body_util::BodyExt;
use serde_json::Value;
use switchyard_core::{
    Backend, BackendError, Capabilities, ChatRequest, Delta, Event, EventStream, FinishReason,
    ModelTarget, Prices, Usage,
};
use switchyard_http::{AppState, HttpSettings, app};
use switchyard_platform::{CreatedApiKey, KeyKind, NewKey};
use switchyard_router::{CatalogueModel, Route, Router};
use switchyard_store::{Store, UsageRow};
use tower::ServiceExt;

pub const MODEL: &str = "test/scripted";
pub const ALIAS: &str = "scripted";

pub const PRICES: Prices = Prices {
    prompt: 1.0,
    cached_prompt: Some(0.5),
    completion: 2.0,
};

/// One step of a scripted stream.
#[derive(Clone)]
pub enum Step {
    Item(Result<Event, BackendError>),
    Sleep(Duration),
    /// Never yields again.
    Hang,
}

pub fn text(index: u32, s: &str) -> Step {
    Step::Item(Ok(Event::Delta {
        index,
        delta: Delta {
            content: Some(s.into()),
            ..Delta::default()
        },
    }))
}

pub fn finish(index: u32, reason: FinishReason) -> Step {
    Step::Item(Ok(Event::Finish { index, reason }))
}

pub fn usage(prompt: u64, cached: u64, completion: u64, reasoning: u64) -> Step {
    Step::Item(Ok(Event::Usage(Usage {
        prompt_tokens: prompt,
        cached_tokens: cached,
        completion_tokens: completion,
        reasoning_tokens: reasoning,
    })))
}

/// A backend that plays a script set by the test; records cancellations.
#[derive(Default)]
pub struct ScriptedBackend {
    script: Mutex<Vec<Step>>,
    /// Fail `chat()` itself (before the first byte).
    fail_before: Mutex<Option<BackendError>>,
    pub calls: AtomicU64,
    /// Streams dropped before they were exhausted.
    pub cancelled: AtomicU64,
    pub last_request: Mutex<Option<ChatRequest>>,
}

impl ScriptedBackend {
    pub fn set_script(&self, steps: Vec<Step>) {
        *self.script.lock().unwrap() = steps;
    }

    pub fn fail_before(&self, e: Option<BackendError>) {
        *self.fail_before.lock().unwrap() = e;
    }

    pub fn cancelled(&self) -> u64 {
        self.cancelled.load(Ordering::SeqCst)
    }
}

struct Tracked {
    inner: EventStream,
    done: bool,
    backend: Arc<ScriptedBackend>,
}

impl Stream for Tracked {
    type Item = Result<Event, BackendError>;
    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let r = self.inner.as_mut().poll_next(cx);
        // Usage is the contract's last event: after it, dropping is not a cancellation.
        if matches!(
            r,
            Poll::Ready(None) | Poll::Ready(Some(Ok(Event::Usage(_))))
        ) {
            self.done = true;
        }
        r
    }
}

impl Drop for Tracked {
    fn drop(&mut self) {
        if !self.done {
            self.backend.cancelled.fetch_add(1, Ordering::SeqCst);
        }
    }
}

/// Wrapper so the backend can hand out `Arc<Self>` clones to its streams.
pub struct Scripted(pub Arc<ScriptedBackend>);

#[async_trait::async_trait]
impl Backend for Scripted {
    fn name(&self) -> &str {
        "scripted"
    }

    async fn chat(
        &self,
        _target: &ModelTarget,
        request: &ChatRequest,
    ) -> Result<EventStream, BackendError> {
        self.0.calls.fetch_add(1, Ordering::SeqCst);
        *self.0.last_request.lock().unwrap() = Some(request.clone());
        if let Some(e) = self.0.fail_before.lock().unwrap().clone() {
            return Err(e);
        }
        let steps = self.0.script.lock().unwrap().clone();
        let s = async_stream::stream! {
            for step in steps {
                match step {
                    Step::Item(i) => yield i,
                    Step::Sleep(d) => tokio::time::sleep(d).await,
                    Step::Hang => futures::future::pending::<()>().await,
                }
            }
        };
        Ok(Box::pin(Tracked {
            inner: Box::pin(s),
            done: false,
            backend: self.0.clone(),
        }))
    }
}

pub fn catalogue_model(id: &str, aliases: &[&str], provider: &str) -> CatalogueModel {
    CatalogueModel {
        id: id.into(),
        aliases: aliases.iter().map(|s| s.to_string()).collect(),
        primary: Route {
            provider: provider.into(),
            upstream_model: "upstream-name".into(),
        },
        fallbacks: Vec::new(),
        context_length: Some(131072),
        max_output: Some(4096),
        prices: PRICES,
        capabilities: Capabilities::default(),
        name: "Scripted".into(),
        developer: "Switchyard".into(),
        description: "A scripted test model.".into(),
    }
}

pub struct TestApp {
    pub state: AppState,
    pub store: Store,
    pub backend: Arc<ScriptedBackend>,
    /// A valid key.
    pub key: String,
    pub key_prefix: String,
}

pub async fn setup() -> TestApp {
    setup_with(HttpSettings::default(), Vec::new()).await
}

/// `extra`: more catalogue models (served by the same scripted backend).
pub async fn setup_with(settings: HttpSettings, extra: Vec<CatalogueModel>) -> TestApp {
    let backend = Arc::new(ScriptedBackend::default());
    let mut backends: HashMap<String, Arc<dyn Backend>> = HashMap::new();
    backends.insert("scripted".into(), Arc::new(Scripted(backend.clone())));
    let mut models = vec![catalogue_model(MODEL, &[ALIAS], "scripted")];
    models.extend(extra);
    let router = Router::new(models, backends).unwrap();
    let store = Store::open_in_memory().await.unwrap();
    let state = AppState::new(Arc::new(router), store.clone(), settings);
    // The bootstrap administrator's key: calls are not refused for lack of balance.
    let created = admin_key(&state, "test").await;
    TestApp {
        state,
        store,
        backend,
        key: created.secret,
        key_prefix: created.info.prefix,
    }
}

/// A regular key (every scope, no limit) of the bootstrap administrator.
pub async fn admin_key(state: &AppState, name: &str) -> CreatedApiKey {
    let platform = state.platform();
    let admin = platform.bootstrap_admin().await.unwrap();
    platform
        .create_key(
            &admin.id,
            NewKey {
                name: Some(name.into()),
                kind: KeyKind::Regular,
                scopes: None,
                limit: None,
            },
        )
        .await
        .unwrap()
}

impl TestApp {
    pub fn chat_request(&self, body: &Value) -> Request<Body> {
        Request::post("/v1/chat/completions")
            .header("authorization", format!("Bearer {}", self.key))
            .header("content-type", "application/json")
            .body(Body::from(body.to_string()))
            .unwrap()
    }

    pub async fn send(&self, req: Request<Body>) -> Response<Body> {
        app(self.state.clone()).oneshot(req).await.unwrap()
    }

    /// Sends and reads the whole body.
    pub async fn call(&self, req: Request<Body>) -> (StatusCode, axum::http::HeaderMap, String) {
        let resp = self.send(req).await;
        let status = resp.status();
        let headers = resp.headers().clone();
        let body = resp.into_body().collect().await.unwrap().to_bytes();
        (status, headers, String::from_utf8(body.to_vec()).unwrap())
    }

    pub async fn json(&self, req: Request<Body>) -> (StatusCode, Value) {
        let (status, _, body) = self.call(req).await;
        (status, serde_json::from_str(&body).unwrap_or(Value::Null))
    }

    /// All ledger rows, after the background writes settled.
    pub async fn rows(&self) -> Vec<UsageRow> {
        self.state.drain().await;
        self.store.recent_usage(1000).await.unwrap()
    }

    /// Waits (up to 5 s) until `n` rows exist.
    pub async fn wait_rows(&self, n: usize) -> Vec<UsageRow> {
        let deadline = Instant::now() + Duration::from_secs(5);
        loop {
            let rows = self.store.recent_usage(1000).await.unwrap();
            if rows.len() >= n || Instant::now() > deadline {
                return rows;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }
}

pub fn simple_body(stream: bool) -> Value {
    serde_json::json!({
        "model": MODEL,
        "messages": [{"role": "user", "content": "Hello"}],
        "stream": stream,
    })
}

/// `data:` payloads of an SSE body, in order.
pub fn sse_data(body: &str) -> Vec<String> {
    body.split("\n\n")
        .filter_map(|ev| ev.strip_prefix("data: "))
        .map(str::to_owned)
        .collect()
}

pub fn assert_openai_error(v: &Value, typ: &str, code: &str) {
    let e = &v["error"];
    assert!(e["message"].as_str().is_some_and(|m| !m.is_empty()), "{v}");
    assert_eq!(e["type"], typ, "{v}");
    assert_eq!(e["code"], code, "{v}");
    assert!(e.get("param").is_some(), "{v}");
}
