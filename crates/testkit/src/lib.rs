//! Test fixtures: a mock OpenAI-compatible upstream server.
//!
//! [`MockUpstream::start`] binds `127.0.0.1:0` and serves:
//!
//! - `POST /v1/chat/completions`: a deterministic answer derived from the request.
//!   The answer is the words of the last user message in reverse order
//!   (`"one two three"` → `"three two one"`, `"(empty)"` when there are none),
//!   cut to `max_completion_tokens` / `max_tokens` words (then `finish_reason`
//!   is `length`, else `stop`). Every one of `n` choices gets the same answer.
//!   If the request has `tools` and the last user message contains `call`, the
//!   answer is instead a call of the first tool with arguments
//!   `{"text": <last user message>}` (`finish_reason: tool_calls`).
//!   With `logprobs: true` each content token carries a logprob entry with
//!   `top_logprobs` alternatives (the first one is the token itself).
//! - Usage is synthetic but predictable: `prompt_tokens` = words of all
//!   message text; `completion_tokens` = streamed pieces (words of reasoning,
//!   content or refusal; argument pieces of a tool call) times `n`;
//!   `prompt_tokens_details.cached_tokens` = prompt / 2;
//!   `completion_tokens_details.reasoning_tokens` = completion / 2.
//! - `stream: true` answers with SSE: a first chunk per choice carrying
//!   `role`, one chunk per word, a last chunk per choice with `finish_reason`,
//!   a usage chunk with empty `choices` when `stream_options.include_usage`
//!   is true, then `data: [DONE]`.
//! - `GET /v1/models`: a minimal list.
//!
//! Behaviours are selected by the request's `model` field (see [`Behaviour`]):
//!
//! | model | behaviour |
//! |---|---|
//! | `fail-500`, `fail-<status>` | that status with an OpenAI error JSON body |
//! | `fail-429` | 429 with `retry-after: 1` |
//! | `fail-400` | 400 with an OpenAI `invalid_request_error` body |
//! | `hang` | never answers |
//! | `slow-first-byte-<ms>` | waits `<ms>` before the response headers |
//! | `invalid-json` | 200 with a non-JSON body, or non-JSON SSE data when streaming |
//! | `cut-stream` | SSE: 2 chunks, then the connection is closed without finish or `[DONE]` |
//! | `stall-mid-stream` | SSE: 2 chunks, then nothing, forever |
//! | `slow-stream-<ms>` | `<ms>` between SSE chunks (for cancellation tests) |
//! | `flaky-<n>` | the first n requests for this model string get 503, then normal answers |
//! | `error-event` | SSE: 2 chunks, then `data: {"error": {...}}`, then the body ends |
//! | `no-usage` | finishes properly but never sends usage |
//! | `reasoning` | streams reasoning text (`reasoning_content`, then `reasoning`) before the answer |
//! | `refuse` | answers with a `refusal` instead of content |
//! | `quirky-sse` | valid but awkward SSE: comments, `event:`/`id:` lines, CRLF, multi-line `data:` |
//! | anything else | the normal answer |
//!
//! The mock records the number of chat requests, their last JSON bodies, the
//! headers (incl. `Authorization`) of the last one, and how many SSE streams
//! were cancelled by the client before they completed (a guard inside the
//! body stream notices being dropped unfinished).
//!
//! The example binary `mock_upstream` serves the same thing on a fixed address:
//! `cargo run -p switchyard-testkit --example mock_upstream -- --listen 127.0.0.1:9999`.

mod answer;
mod behaviour;
mod server;

use std::{
    collections::{HashMap, VecDeque},
    net::SocketAddr,
    sync::{
        Arc, Mutex, MutexGuard,
        atomic::{AtomicI64, AtomicU64, Ordering},
    },
    time::Duration,
};

use axum::http::HeaderMap;
use serde_json::Value;

pub use behaviour::Behaviour;

/// How many request bodies the mock keeps.
const KEPT_BODIES: usize = 32;

/// State shared between the server and the test holding [`MockUpstream`].
#[derive(Default)]
pub(crate) struct Shared {
    requests: AtomicU64,
    bodies: Mutex<VecDeque<Value>>,
    last_headers: Mutex<HeaderMap>,
    cancelled: AtomicU64,
    completed: AtomicU64,
    in_flight: AtomicI64,
    flaky: Mutex<HashMap<String, u32>>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

impl Shared {
    /// Counts a request and records its headers and body. Returns its number (1-based).
    fn record(&self, headers: &HeaderMap, body: Option<&Value>) -> u64 {
        *lock(&self.last_headers) = headers.clone();
        if let Some(body) = body {
            let mut bodies = lock(&self.bodies);
            if bodies.len() == KEPT_BODIES {
                bodies.pop_front();
            }
            bodies.push_back(body.clone());
        }
        self.requests.fetch_add(1, Ordering::SeqCst) + 1
    }

    /// Counts a request for a `flaky-<n>` model; returns how many came before it.
    fn flaky_seen(&self, model: &str) -> u32 {
        let mut map = lock(&self.flaky);
        let seen = map.entry(model.to_owned()).or_insert(0);
        let before = *seen;
        *seen = seen.saturating_add(1);
        before
    }
}

/// Tracks one request from arrival until its response (or body stream) is dropped.
pub(crate) struct InFlight(Arc<Shared>);

impl InFlight {
    fn new(shared: Arc<Shared>) -> Self {
        shared.in_flight.fetch_add(1, Ordering::SeqCst);
        InFlight(shared)
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.in_flight.fetch_sub(1, Ordering::SeqCst);
    }
}

/// Lives inside an SSE body; counts a cancellation if dropped before it finished.
pub(crate) struct StreamGuard {
    shared: Arc<Shared>,
    finished: bool,
}

impl StreamGuard {
    fn new(shared: Arc<Shared>) -> Self {
        StreamGuard {
            shared,
            finished: false,
        }
    }

    fn finish(&mut self) {
        if !self.finished {
            self.finished = true;
            self.shared.completed.fetch_add(1, Ordering::SeqCst);
        }
    }
}

impl Drop for StreamGuard {
    fn drop(&mut self) {
        if !self.finished {
            self.shared.cancelled.fetch_add(1, Ordering::SeqCst);
        }
    }
}

/// A running mock upstream. The server stops accepting when this is dropped.
pub struct MockUpstream {
    addr: SocketAddr,
    shared: Arc<Shared>,
    task: tokio::task::JoinHandle<()>,
}

impl MockUpstream {
    /// Starts the mock on `127.0.0.1:0`.
    ///
    /// This is a test fixture: a test cannot run without its upstream, so a
    /// failure to bind a loopback port aborts the test. Use [`MockUpstream::bind`]
    /// to handle the error instead.
    #[allow(clippy::panic)]
    pub async fn start() -> MockUpstream {
        let addr = SocketAddr::from(([127, 0, 0, 1], 0));
        match Self::bind(addr).await {
            Ok(m) => m,
            Err(e) => panic!("mock upstream: cannot bind {addr}: {e}"),
        }
    }

    /// Starts the mock on `addr`.
    pub async fn bind(addr: SocketAddr) -> std::io::Result<MockUpstream> {
        let listener = tokio::net::TcpListener::bind(addr).await?;
        let addr = listener.local_addr()?;
        let shared = Arc::new(Shared::default());
        let task = tokio::spawn(server::serve(listener, shared.clone()));
        Ok(MockUpstream { addr, shared, task })
    }

    /// The socket address the mock listens on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http://127.0.0.1:PORT/v1`.
    pub fn base_url(&self) -> String {
        format!("http://{}/v1", self.addr)
    }

    /// Number of `POST /v1/chat/completions` requests received.
    pub fn request_count(&self) -> u64 {
        self.shared.requests.load(Ordering::SeqCst)
    }

    /// The JSON body of the last chat request that had a JSON body.
    pub fn last_request(&self) -> Option<Value> {
        lock(&self.shared.bodies).back().cloned()
    }

    /// The last (up to 32) chat request bodies, oldest first.
    pub fn requests(&self) -> Vec<Value> {
        lock(&self.shared.bodies).iter().cloned().collect()
    }

    /// The `Authorization` header of the last chat request.
    pub fn last_authorization(&self) -> Option<String> {
        self.last_header("authorization")
    }

    /// A header of the last chat request.
    pub fn last_header(&self, name: &str) -> Option<String> {
        lock(&self.shared.last_headers)
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
    }

    /// SSE streams the client dropped before they completed.
    pub fn cancelled_streams(&self) -> u64 {
        self.shared.cancelled.load(Ordering::SeqCst)
    }

    /// SSE streams sent to the end (including deliberately cut ones).
    pub fn completed_streams(&self) -> u64 {
        self.shared.completed.load(Ordering::SeqCst)
    }

    /// Chat requests whose handler or response body is still alive.
    pub fn in_flight(&self) -> i64 {
        self.shared.in_flight.load(Ordering::SeqCst)
    }

    /// Polls `cond` every 10 ms until it holds or `timeout` passes; returns whether it held.
    pub async fn eventually(
        &self,
        timeout: Duration,
        cond: impl Fn(&MockUpstream) -> bool,
    ) -> bool {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            if cond(self) {
                return true;
            }
            if tokio::time::Instant::now() >= deadline {
                return false;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }
}

impl Drop for MockUpstream {
    fn drop(&mut self) {
        self.task.abort();
    }
}
